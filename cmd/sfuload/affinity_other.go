//go:build !linux

package main

import "errors"

func pinProcess(string) error { return errors.New("CPU pinning is only supported on Linux") }

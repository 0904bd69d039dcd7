//go:build !linux

package udpbatch

import (
	"errors"
	"syscall"
)

const oobSize = 0

func enableKernelStamps(syscall.Conn) error {
	return errors.New("udpbatch: kernel receive timestamps need Linux")
}

func kernelStamp([]byte) (int64, bool) { return 0, false }

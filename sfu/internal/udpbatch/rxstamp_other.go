//go:build !linux

package udpbatch

import (
	"errors"
	"syscall"
)

// OOBSize is the control-message buffer size for KernelStamp.
const OOBSize = 0

// EnableKernelStamps reports that kernel receive timestamps are not
// supported here.
func EnableKernelStamps(syscall.Conn) error {
	return errors.New("udpbatch: kernel receive timestamps need Linux")
}

// KernelStamp finds no time here.
func KernelStamp([]byte) (int64, bool) { return 0, false }

//go:build linux

package udpbatch

import (
	"fmt"
	"syscall"
	"unsafe"
)

// OOBSize holds one SCM_TIMESTAMPNS control message.
const OOBSize = 64

// EnableKernelStamps turns on SO_TIMESTAMPNS (socket(7)) on c: every
// datagram read with its control messages then carries its kernel receive
// time, which KernelStamp extracts.
func EnableKernelStamps(c syscall.Conn) error {
	rc, err := c.SyscallConn()
	if err != nil {
		return fmt.Errorf("udpbatch: %w", err)
	}
	var serr error
	if err := rc.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return fmt.Errorf("udpbatch: %w", err)
	}
	if serr != nil {
		return fmt.Errorf("udpbatch: SO_TIMESTAMPNS: %w", serr)
	}
	return nil
}

// KernelStamp extracts the SCM_TIMESTAMPNS receive time (socket(7)) from
// control messages, in unix nanoseconds.
func KernelStamp(oob []byte) (int64, bool) {
	hl := syscall.CmsgLen(0)
	for len(oob) >= hl {
		h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
		l := int(h.Len)
		if l < hl || l > len(oob) {
			return 0, false
		}
		if h.Level == syscall.SOL_SOCKET && h.Type == syscall.SCM_TIMESTAMPNS &&
			l-hl >= int(unsafe.Sizeof(syscall.Timespec{})) {
			ts := (*syscall.Timespec)(unsafe.Pointer(&oob[hl]))
			return ts.Nano(), true
		}
		sp := syscall.CmsgSpace(l - hl)
		if sp > len(oob) {
			return 0, false
		}
		oob = oob[sp:]
	}
	return 0, false
}

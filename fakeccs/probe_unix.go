//go:build unix

package fakeccs

import (
	"io"
	"os"
	"syscall"
)

// probeSupported: the socket can be read without waiting.
const probeSupported = true

// readOnce reads once from the socket, which the runtime keeps in
// non-blocking mode, and never asks to wait.
func (c *inConn) readOnce(fd uintptr) bool {
	c.n, c.errno = syscall.Read(int(fd), c.p)
	return true
}

func (c *inConn) probeResult() (int, error) {
	switch n, errno := c.n, c.errno; {
	case errno == syscall.EAGAIN || errno == syscall.EINTR:
		return 0, errWouldBlock
	case errno != nil:
		return 0, os.NewSyscallError("read", errno)
	case n == 0:
		return 0, io.EOF
	default:
		return n, nil
	}
}

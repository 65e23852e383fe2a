package fakeccs

import (
	"net"
	"syscall"
)

// inConn is the TCP connection under a client's TLS connection. It reads
// as the TCP connection does, except while probe is set: then a read that
// would have to wait for the network fails at once with errWouldBlock.
// Reading the TLS connection in probe mode thus returns input that is
// already readable (decrypted and buffered by TLS, buffered records, or
// bytes in the socket's receive buffer) and never waits: crypto/tls has
// no call that says whether more input is buffered, and a read deadline
// in the past does not even look at the socket. errWouldBlock is a
// temporary net.Error, which crypto/tls lets a later read recover from
// (keeping any partial record it has).
type inConn struct {
	net.Conn
	rc    syscall.RawConn // nil: the connection cannot be probed
	probe bool
	p     []byte // the buffer of the current probe read
	n     int
	errno error
	read  func(fd uintptr) bool // made once: a probe allocates nothing
}

func newInConn(raw net.Conn) *inConn {
	c := &inConn{Conn: raw}
	if sc, ok := raw.(syscall.Conn); ok && probeSupported {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rc = rc
			c.read = c.readOnce
		}
	}
	return c
}

// Read reads from the TCP connection; in probe mode without waiting.
func (c *inConn) Read(p []byte) (int, error) {
	if !c.probe {
		return c.Conn.Read(p)
	}
	if c.rc == nil || len(p) == 0 {
		return 0, errWouldBlock
	}
	c.p = p
	err := c.rc.Read(c.read)
	c.p = nil
	if err != nil { // a passed deadline, a closed connection
		return 0, err
	}
	return c.probeResult()
}

// wouldBlock is the error of a probe read that found no input.
type wouldBlock struct{}

func (wouldBlock) Error() string   { return "fakeccs: no input readable yet" }
func (wouldBlock) Timeout() bool   { return true }
func (wouldBlock) Temporary() bool { return true }

var errWouldBlock net.Error = wouldBlock{}

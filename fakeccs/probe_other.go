//go:build !unix

package fakeccs

// probeSupported: elsewhere no probe is made, and answers are written
// before every read (a client's burst may be answered in parts).
const probeSupported = false

func (c *inConn) readOnce(fd uintptr) bool { return true }

func (c *inConn) probeResult() (int, error) { return 0, errWouldBlock }

package fakeccs

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// ioTimeout bounds every wait of a test for the server.
const ioTimeout = 5 * time.Second

// The harness of the package's own tests: a server on a loopback port
// (startServer), clients that speak to it (dial), and in-memory
// connections for the per-message path (memServerConn). It is
// fakeccstest's for the package's own tests, which cannot import
// fakeccstest (it imports this package).

// newServer returns New(cfg), failing the test on an error.
func newServer(t testing.TB, cfg Config) *Server {
	t.Helper()
	srv, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return srv
}

// startServer runs a server with cfg on a loopback port until the test
// ends, after before (if any) has set it up; then it closes it and fails
// the test unless Serve ended cleanly and the accounting identity holds.
func startServer(t testing.TB, cfg Config, before ...func(*Server)) *Server {
	t.Helper()
	srv := newServer(t, cfg)
	for _, f := range before {
		f(srv)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		if err := <-done; err != nil {
			t.Errorf("Serve returned %v after Close; want nil", err)
		}
		checkIdentity(t, srv)
	})
	for deadline := time.Now().Add(ioTimeout); srv.Addr() == nil; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("Serve did not start")
		}
	}
	return srv
}

// checkIdentity fails the test unless the accounting identity of srv,
// closed, holds: every downstream message it read has one outcome. Every
// server a test starts is checked (startServer does it when the test ends).
func checkIdentity(t testing.TB, srv *Server) {
	t.Helper()
	st := srv.Stats()
	checkStatsIdentity(t, &st)
}

// checkConnIdentity is checkIdentity for a connection served by
// memServerConn, which no server counts.
func checkConnIdentity(t testing.TB, c *conn) {
	t.Helper()
	st := connStats(c)
	checkStatsIdentity(t, &st)
}

// connStats returns the counts a connection has published.
func connStats(c *conn) Stats {
	counts := make([]uint64, len(c.pub))
	for i := range c.pub {
		counts[i] = c.pub[i].Load()
	}
	return c.s.stats(counts)
}

func checkStatsIdentity(t testing.TB, st *Stats) {
	t.Helper()
	if err := st.CheckIdentity(); err != nil {
		t.Errorf("CheckIdentity: %v (stats %+v)", err, *st)
	}
	if st.ActiveConnections != 0 {
		t.Errorf("identity checked with %d connections open", st.ActiveConnections)
	}
}

// client is a test's CCS client: a ccs.Conn and a reader with deadlines.
type client struct {
	t   testing.TB
	c   *ccs.Conn
	jr  ccs.JSONReader
	out []byte
}

func clientConfig(srv *Server) ccs.ClientConfig {
	return ccs.ClientConfig{
		SenderID: srv.cfg.SenderID,
		APIKey:   srv.cfg.APIKey,
		TLS:      &tls.Config{RootCAs: srv.CertPool()},
		Timeout:  ioTimeout,
	}
}

// dial connects and authenticates to srv.
func dial(t testing.TB, srv *Server) *client {
	t.Helper()
	c, err := ccs.Dial(context.Background(), srv.Addr().String(), clientConfig(srv))
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	return &client{t: t, c: c}
}

// send writes a downstream message with the JSON payload.
func (c *client) send(payload string) {
	c.t.Helper()
	c.out = ccs.AppendDownstream(c.out[:0], []byte(payload))
	c.raw(string(c.out))
}

// raw writes bytes as they are.
func (c *client) raw(s string) {
	c.t.Helper()
	c.c.SetWriteDeadline(time.Now().Add(ioTimeout))
	if _, err := io.WriteString(c.c, s); err != nil {
		c.t.Fatalf("write: %v", err)
	}
}

// ack acknowledges an upstream message or receipt.
func (c *client) ack(to, id string) {
	c.t.Helper()
	c.out = ccs.AppendUpstreamAck(c.out[:0], []byte(to), []byte(id))
	c.raw(string(c.out))
}

// item is a copy of one item the server sent.
type item struct {
	Kind                               ccs.Kind
	Type, ID, To, From                 string
	GCM                                string
	ErrorCondition, ErrorText, ErrCode string
	Child                              string
	Raw                                string
	JSON                               map[string]any
}

// next returns the next item other than a keepalive, failing the test on
// an error or after ioTimeout.
func (c *client) next() item {
	c.t.Helper()
	for {
		it, err := c.nextErr(ioTimeout)
		if err != nil {
			c.t.Fatalf("reading from the server: %v", err)
		}
		if it.Kind != ccs.KindKeepalive {
			return it
		}
	}
}

// nextErr returns the next item, keepalives included, or the error.
func (c *client) nextErr(wait time.Duration) (item, error) {
	c.c.SetReadDeadline(time.Now().Add(wait))
	st, err := c.c.Framer.Next()
	if err != nil {
		return item{}, err
	}
	it := item{Kind: st.Kind, Type: string(st.Type), ID: string(st.ID), To: string(st.To), From: string(st.From),
		GCM: string(st.GCM), ErrorCondition: string(st.ErrorCondition), ErrorText: string(st.ErrorText),
		ErrCode: string(st.ErrorCode), Child: string(st.Child), Raw: string(st.Raw)}
	if st.HasGCM && it.Type != "error" {
		if err := json.Unmarshal(st.GCM, &it.JSON); err != nil {
			c.t.Fatalf("server sent a payload that is not JSON: %q: %v", st.GCM, err)
		}
	}
	return it, nil
}

// expectEnd reads until the stream ends and fails unless it ends with
// </stream:stream> (after a stream error with condition cond, if not "").
func (c *client) expectEnd(cond string) {
	c.t.Helper()
	sawErr := cond == ""
	for {
		it, err := c.nextErr(ioTimeout)
		if err != nil {
			if errors.Is(err, io.EOF) && sawErr {
				c.c.Close()
				return
			}
			c.t.Fatalf("reading until the stream end: %v (stream error %q seen: %v)", err, cond, sawErr)
		}
		switch it.Kind {
		case ccs.KindStreamError:
			if it.ErrorCondition != cond {
				c.t.Fatalf("stream error %q (%s); want %q", it.ErrorCondition, it.ErrorText, cond)
			}
			sawErr = true
		case ccs.KindStreamEnd:
			if !sawErr {
				c.t.Fatalf("stream ended without the stream error %q", cond)
			}
			c.c.Close() // as a client does when the server ended the stream
			return
		}
	}
}

// expectClosed reads until the connection closes and returns the items
// read, whether a stream end was among them, and the error that ended it.
func (c *client) expectClosed() (items []item, sawEnd bool, err error) {
	c.t.Helper()
	for {
		it, err := c.nextErr(ioTimeout)
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				c.t.Fatalf("connection still open after %v", ioTimeout)
			}
			return items, sawEnd, err
		}
		if it.Kind == ccs.KindStreamEnd {
			sawEnd = true
			c.c.Close()
		}
		items = append(items, it)
	}
}

// msg builds a valid downstream payload, with extra fields (raw JSON
// members) appended.
func msg(id string, extra ...string) string {
	s := `{"to":"REG-` + id + `","message_id":"` + id + `","data":{"k":"v"}`
	for _, e := range extra {
		s += "," + e
	}
	return s + "}"
}

// wantAck checks that it is the ACK of id to "REG-"+id.
func wantAck(t testing.TB, it item, id string) {
	t.Helper()
	if it.Kind != ccs.KindMessage || it.JSON["message_type"] != "ack" || it.JSON["message_id"] != id ||
		it.JSON["from"] != "REG-"+id {
		t.Fatalf("got %+v; want the ACK of %q from %q", it, id, "REG-"+id)
	}
}

// wantNack checks that it is a NACK of id with the code, and returns its
// description.
func wantNack(t testing.TB, it item, id, code string) string {
	t.Helper()
	if it.Kind != ccs.KindMessage || it.JSON["message_type"] != "nack" || it.JSON["message_id"] != id ||
		it.JSON["error"] != code {
		t.Fatalf("got %+v; want a NACK %s of %q", it, code, id)
	}
	d, _ := it.JSON["error_description"].(string)
	return d
}

// waitStats polls the server's stats until ok accepts them.
func waitStats(t testing.TB, srv *Server, what string, ok func(Stats) bool) Stats {
	t.Helper()
	deadline := time.Now().Add(ioTimeout)
	for {
		st := srv.Stats()
		if ok(st) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("stats never showed %s: %+v", what, st)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// witness checks that srv still serves a new connection.
func witness(t testing.TB, srv *Server) {
	t.Helper()
	c := dial(t, srv)
	c.send(msg("witness"))
	wantAck(t, c.next(), "witness")
	c.c.Close()
}

// memConn is an in-memory net.Conn: reads come from in, writes go to out.
type memConn struct {
	mu  sync.Mutex
	in  *bytes.Reader
	out bytes.Buffer
}

func (m *memConn) Read(p []byte) (int, error) { return m.in.Read(p) }
func (m *memConn) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.out.Write(p)
}
func (m *memConn) Close() error                       { return nil }
func (m *memConn) LocalAddr() net.Addr                { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (m *memConn) RemoteAddr() net.Addr               { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)} }
func (m *memConn) SetDeadline(t time.Time) error      { return nil }
func (m *memConn) SetReadDeadline(t time.Time) error  { return nil }
func (m *memConn) SetWriteDeadline(t time.Time) error { return nil }

const testHeader = `<stream:stream from="gcm.googleapis.com" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`

// memServerConn returns a bound connection of srv reading input (after a
// stream header) from memory, as the stanza loop sees it after the
// handshake.
func memServerConn(t testing.TB, srv *Server, input []byte) (*conn, *memConn) {
	t.Helper()
	mc := &memConn{in: bytes.NewReader(append([]byte(testHeader), input...))}
	c := srv.newConn(mc, mc)
	c.in.fr = ccs.NewFramer(&c.framed, ccs.FramerConfig{MaxStanza: srv.cfg.MaxStanza, ReadSize: framerReadSize})
	if st, err := c.in.fr.Next(); err != nil || st.Kind != ccs.KindStreamStart {
		t.Fatalf("memServerConn: header: %v", err)
	}
	c.jid = []byte(srv.cfg.SenderID + "@gcm.googleapis.com/fuzz01234567")
	if srv.cfg.UpstreamRate > 0 || srv.cfg.Receipts {
		c.up.toAttr = []byte(srv.cfg.SenderID + "@gcm.googleapis.com")
		c.up.backlog = srv.senderBacklog(srv.cfg.SenderID)
	}
	return c, mc
}

// jsonKeys returns the keys of a JSON object.
func jsonKeys(t testing.TB, b []byte) []string {
	t.Helper()
	var m map[string]json.RawMessage
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	var keys []string
	for k := range m {
		keys = append(keys, k)
	}
	return keys
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

package mellium

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/driver"
)

// scripted is a one-connection CCS server on loopback that runs the
// server handshake and then a test's script.
type scripted struct {
	addr string
	cfg  ccs.ClientConfig
	done chan struct{}
}

// startScripted accepts one connection, authenticates it with auth and
// runs script on it; the test's cleanup closes everything.
func startScripted(t *testing.T, auth func(identity, password string) bool, script func(t *testing.T, sc *ccs.ServerConn)) *scripted {
	t.Helper()
	// httptest's TLS server carries a certificate for 127.0.0.1.
	hs := httptest.NewTLSServer(http.NotFoundHandler())
	tlsCfg := hs.TLS.Clone()
	tlsCfg.NextProtos = nil
	pool := x509.NewCertPool()
	pool.AddCert(hs.Certificate())
	hs.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &scripted{
		addr: ln.Addr().String(),
		cfg:  ccs.ClientConfig{SenderID: "4242", APIKey: "scripted-key", TLS: &tls.Config{RootCAs: pool}, Timeout: 5 * time.Second},
		done: make(chan struct{}),
	}
	go func() {
		defer close(s.done)
		raw, err := ln.Accept()
		if err != nil {
			return
		}
		defer raw.Close()
		raw.SetDeadline(time.Now().Add(10 * time.Second))
		sc, err := ccs.ServerHandshake(tls.Server(raw, tlsCfg), ccs.ServerConfig{Authenticate: auth})
		if err != nil {
			return
		}
		script(t, sc)
	}()
	t.Cleanup(func() {
		ln.Close()
		<-s.done
	})
	return s
}

func (s *scripted) wait(t *testing.T) {
	t.Helper()
	select {
	case <-s.done:
	case <-time.After(10 * time.Second):
		t.Fatal("scripted server did not finish")
	}
}

// dial connects a client to s, with a read deadline; the test's cleanup
// closes it.
func (s *scripted) dial(t *testing.T) driver.Conn {
	t.Helper()
	c, err := NewTransport(s.addr, s.cfg).Dial(context.Background(), 0)
	if err != nil {
		t.Fatalf("Dial: %v", err)
	}
	t.Cleanup(func() { c.Close() })
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	return c
}

func allow(string, string) bool { return true }

// want is an expected event, with its slices as strings.
type want struct {
	kind                       driver.EventKind
	id, from, errText, control string
	code                       ccs.NackCode
	payload, condition         string
}

func got(ev *driver.Event) want {
	return want{ev.Kind, string(ev.ID), string(ev.From), string(ev.Error), string(ev.Control), ev.Code, string(ev.Payload), string(ev.Condition)}
}

// TestEvents feeds the forms CCS servers use (prefixed and default gcm
// namespaces, entities, character references, CDATA, keepalives, stanza
// errors, pings, foreign elements) and checks the events, then the
// client's ACK, pong and end of stream as the server reads them.
func TestEvents(t *testing.T) {
	t.Parallel()
	const script = `<message><data:gcm xmlns:data="google:mobile:data">{"message_type":"ack","message_id":"a&amp;1","from":"r"}</data:gcm></message>` +
		` ` +
		`<message><gcm xmlns="google:mobile:data">{&quot;message_type&quot;:&quot;nack&quot;,&quot;message_id&quot;:&quot;m2&quot;,&quot;error&quot;:&quot;SERVICE_UNAVAILABLE&quot;}</gcm></message>` +
		"\n" +
		`<message><gcm xmlns="google:mobile:data"><![CDATA[{"message_type":"control","control_type":"CONNECTION_DRAINING"}]]></gcm></message>` +
		`<message><gcm xmlns="urn:not-gcm">{"message_type":"ack","message_id":"foreign"}</gcm></message>` +
		`<presence/>` +
		`<message to="4242@gcm.googleapis.com" from="devices@gcm.googleapis.com" type="normal"><gcm xmlns="google:mobile:data">{"category":"c","data":{"k":"v"},"message_id":"u&#x31;","from":"dev&#60;1"}</gcm></message>` +
		`<message type="normal"><gcm xmlns="google:mobile:data">{"message_type":"receipt","message_id":"dr2:9","from":"gcm.googleapis.com","data":{}}</gcm></message>` +
		`<message id="3" type="error"><gcm xmlns="google:mobile:data">{"random": "text"}</gcm><error code="400" type="modify"><text xmlns="urn:ietf:params:xml:ns:xmpp-stanzas">bad</text><bad-request xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></message>` +
		`<iq type="get" id="p1" from="gcm.googleapis.com"><ping xmlns="urn:xmpp:ping"/></iq>` +
		`<iq type="result" id="other"/>` +
		`</stream:stream>`
	wants := []want{
		{kind: driver.EventAck, id: "a&1"},
		{kind: driver.EventNack, id: "m2", code: ccs.NackServiceUnavailable, errText: "SERVICE_UNAVAILABLE"},
		{kind: driver.EventControl, control: "CONNECTION_DRAINING"},
		{kind: driver.EventUpstream, id: "u1", from: "dev<1"},
		{kind: driver.EventReceipt, id: "dr2:9", from: "gcm.googleapis.com"},
		{kind: driver.EventStanzaError, payload: `{"random": "text"}`, condition: "bad-request"},
		{kind: driver.EventPing, id: "p1"},
		{kind: driver.EventStreamEnd},
	}
	replies := make(chan []string, 1)
	s := startScripted(t, allow, func(t *testing.T, sc *ccs.ServerConn) {
		if _, err := io.WriteString(sc, script); err != nil {
			return
		}
		var jr ccs.JSONReader
		var m ccs.Message
		var seen []string
		for {
			st, err := sc.Framer.Next()
			if err != nil {
				break
			}
			switch st.Kind {
			case ccs.KindMessage:
				if jr.Parse(st.GCM, &m) == nil {
					seen = append(seen, "ack to="+string(m.To.Str)+" id="+string(m.MessageID.Str)+" type="+string(m.MessageType.Str))
				}
			case ccs.KindIQ:
				seen = append(seen, "iq "+string(st.Type)+" id="+string(st.ID))
			case ccs.KindStreamEnd:
				seen = append(seen, "end")
			}
			if st.Kind == ccs.KindStreamEnd {
				break
			}
		}
		replies <- seen
	})
	c := s.dial(t)
	var ev driver.Event
	for i, w := range wants {
		if err := c.Next(&ev); err != nil {
			t.Fatalf("Next #%d = %v; want %+v", i, err, w)
		}
		if g := got(&ev); g != w {
			t.Errorf("Next #%d = %+v; want %+v", i, g, w)
		}
		switch ev.Kind {
		case driver.EventUpstream, driver.EventReceipt:
			c.SendAck(ev.From, ev.ID)
		case driver.EventPing:
			c.SendPong(ev.ID)
		case driver.EventStreamEnd:
			c.SendStreamEnd()
		}
	}
	if c.Unflushed() == 0 {
		t.Errorf("Unflushed() = 0 after three stanzas and the stream end")
	}
	if err := c.Flush(); err != nil {
		t.Fatalf("Flush: %v", err)
	}
	if c.Unflushed() != 0 {
		t.Errorf("Unflushed() = %d after Flush; want 0", c.Unflushed())
	}
	var seen []string
	select {
	case seen = <-replies:
	case <-time.After(5 * time.Second):
		t.Fatal("server did not read the replies")
	}
	wantSeen := []string{
		"ack to=dev<1 id=u1 type=ack",
		"ack to=gcm.googleapis.com id=dr2:9 type=ack",
		"iq result id=p1",
		"end",
	}
	if len(seen) != len(wantSeen) {
		t.Fatalf("server read %q; want %q", seen, wantSeen)
	}
	for i := range seen {
		if seen[i] != wantSeen[i] {
			t.Errorf("server read #%d %q; want %q", i, seen[i], wantSeen[i])
		}
	}
}

// TestReadErrors checks the errors Next returns: a stream error from the
// server, and a connection closed inside the stream (io.EOF).
func TestReadErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		script string
		check  func(error) bool
	}{
		{"stream-error", `<stream:error><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">too big</text></stream:error>`,
			func(err error) bool {
				var se *ccs.StreamError
				return errors.As(err, &se) && se.Condition == "policy-violation" && se.Text == "too big"
			}},
		{"tcp-close", `<message><gcm xmlns="google:mobile:data">{"message_type":"ack"`,
			func(err error) bool { return err == io.EOF }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := startScripted(t, allow, func(t *testing.T, sc *ccs.ServerConn) {
				io.WriteString(sc, tc.script)
				sc.Close()
			})
			c := s.dial(t)
			var ev driver.Event
			err := c.Next(&ev)
			if !tc.check(err) {
				t.Errorf("Next = %v (event %+v); want the %s error", err, got(&ev), tc.name)
			}
		})
	}
}

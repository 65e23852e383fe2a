// Command gosrcxmpp is a CCS app server on gosrc.io/xmpp (the FluuxIO
// library). That library speaks only plain TCP with STARTTLS (or
// websockets): it cannot open TLS from the first byte as CCS requires, so
// this program puts a small plain-to-TLS relay in front of it, the job
// stunnel did for such deployments, and runs the library with Insecure set
// (the relay's leg is loopback only). The relay also tells the app when the
// server's side of a connection has ended, which the library does not
// report when the server closes its stream cleanly.
//
// The gcm element is registered as a message extension so that the library
// keeps it; messages are sent raw with SendRaw. It follows the `ccsbench
// judge` contract (CCS_* environment variables); GOSRC_DEBUG=1 logs the
// stream to stderr.
package main

import (
	"crypto/tls"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"time"

	"gosrc.io/xmpp"
	"gosrc.io/xmpp/stanza"

	"ccsbench.interop/goxmpp/ccsapp"
)

// gcm is the <gcm xmlns="google:mobile:data"> element: its text is the JSON.
type gcm struct {
	XMLName xml.Name `xml:"google:mobile:data gcm"`
	JSON    string   `xml:",chardata"`
}

func main() {
	stanza.TypeRegistry.MapExtension(stanza.PKTMessage, xml.Name{Space: "google:mobile:data", Local: "gcm"}, gcm{})
	ccsapp.Main("gosrcxmpp", 4, true, dialer)
}

func dialer(cfg ccsapp.Config) ccsapp.Dial {
	tc, err := cfg.TLSConfig(cfg.Host)
	if err != nil {
		fmt.Fprintln(os.Stderr, "gosrcxmpp:", err)
		os.Exit(1)
	}
	target := net.JoinHostPort(cfg.Host, cfg.Port)
	return func() (ccsapp.Link, error) {
		relay, err := newRelay(target, tc)
		if err != nil {
			return nil, err
		}
		l := &link{in: make(chan ccsapp.Inbound, 4*ccsapp.Window), relay: relay}
		conf := &xmpp.Config{
			TransportConfiguration: xmpp.TransportConfiguration{Address: relay.addr, Domain: "gcm.googleapis.com"},
			Jid:                    cfg.SenderID + "@gcm.googleapis.com",
			Credential:             xmpp.Password(cfg.APIKey),
			Insecure:               true,
			ConnectTimeout:         10,
		}
		if os.Getenv("GOSRC_DEBUG") == "1" {
			conf.StreamLogger = os.Stderr
		}
		router := xmpp.NewRouter()
		router.HandleFunc("message", l.onMessage)
		c, err := xmpp.NewClient(conf, router, l.onError)
		if err != nil {
			relay.close()
			return nil, err
		}
		if err := c.Connect(); err != nil {
			relay.close()
			return nil, err
		}
		l.c = c
		return l, nil
	}
}

type link struct {
	c       *xmpp.Client
	relay   *relay
	in      chan ccsapp.Inbound
	errOnce sync.Once
	err     error
}

// onMessage runs in a goroutine of its own for every stanza (the library
// routes each one concurrently), so answers may reach the app out of order.
func (l *link) onMessage(_ xmpp.Sender, p stanza.Packet) {
	m, ok := p.(stanza.Message)
	if !ok {
		return
	}
	for _, e := range m.Extensions {
		if g, ok := e.(*gcm); ok {
			select {
			case l.in <- ccsapp.Inbound{Type: string(m.Type), JSON: g.JSON}:
			case <-l.relay.done:
			}
			return
		}
	}
}

func (l *link) onError(err error) {
	l.errOnce.Do(func() { l.err = err })
}

func (l *link) SendRaw(s string) error { return l.c.SendRaw(s) }

func (l *link) Recv() (ccsapp.Inbound, error) {
	select {
	case in := <-l.in:
		return in, nil
	case <-l.relay.done:
		// Drain what the router already delivered before reporting the end.
		select {
		case in := <-l.in:
			return in, nil
		case <-time.After(10 * time.Millisecond):
		}
		if l.err != nil {
			return ccsapp.Inbound{}, l.err
		}
		return ccsapp.Inbound{}, errors.New("server closed the connection")
	}
}

func (l *link) Close() {
	_ = l.c.Disconnect()
	select {
	case <-l.relay.done:
	case <-time.After(2 * time.Second):
	}
	l.relay.close()
}

// relay accepts one plain connection on loopback and carries it over TLS
// to the server.
type relay struct {
	ln   net.Listener
	addr string
	done chan struct{} // closed once the server's side has ended
	mu   sync.Mutex
	cs   []net.Conn
}

func newRelay(target string, tc *tls.Config) (*relay, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	r := &relay{ln: ln, addr: ln.Addr().String(), done: make(chan struct{})}
	go func() {
		defer close(r.done)
		local, err := ln.Accept()
		ln.Close()
		if err != nil {
			return
		}
		remote, err := tls.DialWithDialer(&net.Dialer{Timeout: 10 * time.Second}, "tcp", target, tc)
		if err != nil {
			local.Close()
			return
		}
		r.mu.Lock()
		r.cs = []net.Conn{local, remote}
		r.mu.Unlock()
		go func() { _, _ = io.Copy(remote, local); _ = remote.CloseWrite() }()
		_, _ = io.Copy(local, remote)
		local.Close()
	}()
	return r, nil
}

func (r *relay) close() {
	r.ln.Close()
	r.mu.Lock()
	for _, c := range r.cs {
		c.Close()
	}
	r.mu.Unlock()
}

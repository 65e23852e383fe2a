// Command goxmpp is a CCS app server on github.com/xmppo/go-xmpp, the
// maintained successor of mattn/go-xmpp, written the way Google's go-gcm
// used that library: log in as SENDER@gcm.googleapis.com over TLS from the
// first byte, send raw <message> stanzas with SendOrg, read with Recv, and
// ACK delivery receipts with the "dr2:" prefix stripped.
//
// It follows the `ccsbench judge` contract (CCS_* environment variables).
// The certificate is checked against gcm.googleapis.com, as go-gcm's was
// (GOXMPP_TLS_NAME sets another name, - for CCS_HOST). GOXMPP_DEBUG=1 prints the library's wire trace to stderr; GOXMPP_SESSION=1
// asks for the (legacy) session after bind; GOXMPP_PINGS=MS sends a XEP-0199
// ping after MS milliseconds without input.
package main

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"sync"
	"time"

	xmpp "github.com/xmppo/go-xmpp"

	"ccsbench.interop/goxmpp/ccsapp"
)

const gcmNS = "google:mobile:data"

func main() {
	ccsapp.Main("goxmpp", 4, true, dialer)
}

func dialer(cfg ccsapp.Config) ccsapp.Dial {
	// go-gcm dialled gcm.googleapis.com:5235, so the certificate was checked
	// against that name; here the judge's host stands in for a resolver
	// that maps the name to the fake. GOXMPP_TLS_NAME=- checks CCS_HOST.
	name := os.Getenv("GOXMPP_TLS_NAME")
	switch name {
	case "":
		name = "gcm.googleapis.com"
	case "-":
		name = cfg.Host
	}
	tc, err := cfg.TLSConfig(name)
	if err != nil {
		fmt.Fprintln(os.Stderr, "goxmpp:", err)
		os.Exit(1)
	}
	opts := xmpp.Options{
		Host:        net.JoinHostPort(cfg.Host, cfg.Port),
		User:        cfg.SenderID + "@gcm.googleapis.com",
		Password:    cfg.APIKey,
		TLSConfig:   tc,
		DialTimeout: 10 * time.Second,
		Debug:       os.Getenv("GOXMPP_DEBUG") == "1",
		// go-gcm left both off (xmpp.NewClient); they can be tried here.
		Session:                    os.Getenv("GOXMPP_SESSION") == "1",
		PeriodicServerPings:        os.Getenv("GOXMPP_PINGS") != "",
		PeriodicServerPingsPeriod:  atoi(os.Getenv("GOXMPP_PINGS")),
		PeriodicServerPingsTimeout: 2000,
	}
	return func() (ccsapp.Link, error) {
		c, err := opts.NewClient()
		if err != nil {
			return nil, err
		}
		return &link{c: c, ended: make(chan struct{})}, nil
	}
}

type link struct {
	c       *xmpp.Client
	ended   chan struct{} // closed once Recv has failed
	endOnce sync.Once
	closeMu sync.Mutex
	closing bool
}

func (l *link) SendRaw(s string) error {
	_, err := l.c.SendOrg(s)
	return err
}

// Recv returns the next message with a gcm element, skipping presences,
// IQ results and the like, as go-gcm's read loop did.
func (l *link) Recv() (ccsapp.Inbound, error) {
	for {
		st, err := l.c.Recv()
		if err != nil {
			l.endOnce.Do(func() { close(l.ended) })
			return ccsapp.Inbound{}, err
		}
		chat, ok := st.(xmpp.Chat)
		if !ok {
			continue
		}
		for _, e := range chat.OtherElem {
			if e.XMLName.Space == gcmNS && e.XMLName.Local == "gcm" {
				return ccsapp.Inbound{Type: chat.Type, JSON: e.String()}, nil
			}
		}
	}
}

// Close ends the stream and waits (briefly) for the server's end, which
// the reading goroutine sees. go-xmpp's own Close would read the stream
// from a second goroutine, so it is not used while Recv runs.
func (l *link) Close() {
	l.closeMu.Lock()
	if l.closing {
		l.closeMu.Unlock()
		return
	}
	l.closing = true
	l.closeMu.Unlock()
	_, _ = l.c.SendOrg("</stream:stream>")
	select {
	case <-l.ended:
	case <-time.After(2 * time.Second):
	}
}

func atoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

package fakeccs

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// TestAPIKeyNeverLogged refuses logins in every way and checks that
// neither the fake's key nor the key a client tried shows in a log line or
// a client's error.
func TestAPIKeyNeverLogged(t *testing.T) {
	t.Parallel()
	const serverKey, clientKey = "AIzaSy-server-secret-0123", "AIzaSy-client-secret-4567"
	var mu sync.Mutex
	var logs []string
	srv := startServer(t, Config{APIKey: serverKey, Logf: func(format string, args ...any) {
		mu.Lock()
		logs = append(logs, fmt.Sprintf(format, args...))
		mu.Unlock()
	}})
	senders := []string{srv.cfg.SenderID, srv.cfg.SenderID + "@fcm.googleapis.com", "other@example.com"}
	for _, sender := range senders {
		cfg := clientConfig(srv)
		cfg.SenderID, cfg.APIKey = sender, clientKey
		_, err := ccs.Dial(context.Background(), srv.Addr().String(), cfg)
		if !errors.Is(err, ccs.ErrAuthRefused) {
			t.Fatalf("Dial as %q with a wrong key = %v; want ErrAuthRefused", sender, err)
		}
		if strings.Contains(err.Error(), clientKey) {
			t.Errorf("client error %q shows the key", err)
		}
	}
	waitStats(t, srv, "refused logins", func(s Stats) bool { return s.AuthFailures == uint64(len(senders)) })
	deadline := time.Now().Add(ioTimeout)
	for { // the log line follows the count
		mu.Lock()
		n := len(logs)
		mu.Unlock()
		if n >= len(senders) || time.Now().After(deadline) {
			break
		}
		time.Sleep(2 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(logs) < len(senders) {
		t.Fatalf("%d log lines for %d refused logins: %q", len(logs), len(senders), logs)
	}
	for _, l := range logs {
		if strings.Contains(l, serverKey) || strings.Contains(l, clientKey) {
			t.Errorf("log line shows an API key: %q", l)
		}
	}
}

// A client that sends the API key and its SASL PLAIN message where the
// handshake does not expect them: the fake's log lines quote what it got,
// with both removed.
func TestLogfRedactsCredentials(t *testing.T) {
	t.Parallel()
	const sender, key = "1", "k3y-secret"
	var mu sync.Mutex
	var lines []string
	srv := startServer(t, Config{SenderID: sender, APIKey: key, Logf: func(format string, args ...any) {
		mu.Lock()
		lines = append(lines, fmt.Sprintf(format, args...))
		mu.Unlock()
	}})

	c, err := tls.Dial("tcp", srv.Addr().String(), &tls.Config{RootCAs: srv.CertPool()})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(5 * time.Second))
	blob := ccs.PlainMessage(sender+"@"+ccs.Domain, key)
	io.WriteString(c, `<stream:stream to="gcm.googleapis.com" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`+
		"<x>"+blob+" "+key+"</x>")
	io.Copy(io.Discard, c) // until the fake closes the connection

	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		got := strings.Join(lines, "\n")
		mu.Unlock()
		if strings.Contains(got, "connection from") {
			if strings.Contains(got, key) || strings.Contains(got, blob) || !strings.Contains(got, ccs.Redacted) {
				t.Errorf("log lines %q; want the key and its PLAIN message as %s", got, ccs.Redacted)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no log line about the connection; got %q", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

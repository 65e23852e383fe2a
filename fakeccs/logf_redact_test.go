package fakeccs

import (
	"crypto/tls"
	"fmt"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

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
		if strings.Contains(got, "handshake") {
			if strings.Contains(got, key) || strings.Contains(got, blob) || !strings.Contains(got, ccs.Redacted) {
				t.Errorf("log lines %q; want the key and its PLAIN message as %s", got, ccs.Redacted)
			}
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no handshake log line; got %q", got)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

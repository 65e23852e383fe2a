package fakeccs

import (
	"errors"
	"net"
	"testing"
	"time"
)

// TestProbeRead checks inConn's probe on a loopback TCP connection: it
// returns what the socket holds without waiting, errWouldBlock when it
// holds nothing, and allocates nothing either way. (crypto/tls itself
// allocates a small reader for every read it makes through inConn, probe
// or not: one per write of answers, not per message.)
func TestProbeRead(t *testing.T) { // not parallel: AllocsPerRun forbids it
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	peer, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	raw, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	raw.SetDeadline(time.Now().Add(ioTimeout))
	in := newInConn(raw)
	if in.rc == nil {
		t.Skip("no probe on this system")
	}
	buf := make([]byte, 4096)
	in.probe = true
	start := time.Now()
	if n, err := in.Read(buf); n != 0 || !errors.Is(err, errWouldBlock) {
		t.Fatalf("probe of an empty socket = %d, %v; want 0, errWouldBlock", n, err)
	}
	if el := time.Since(start); el > time.Second {
		t.Errorf("probe of an empty socket took %v; want no wait", el)
	}
	if n := testing.AllocsPerRun(200, func() { in.Read(buf) }); n != 0 {
		t.Errorf("a probe that finds nothing allocates %v times; want 0", n)
	}
	msg := []byte("0123456789")
	got := 0
	if n := testing.AllocsPerRun(200, func() {
		peer.Write(msg)
		for range 10000 {
			if k, _ := in.Read(buf); k > 0 {
				got += k
				return
			}
		}
	}); n != 0 {
		t.Errorf("a probe that finds data allocates %v times; want 0", n)
	}
	if got != 201*len(msg) {
		t.Errorf("probes read %d bytes; want %d", got, 201*len(msg))
	}
	in.probe = false
	peer.Write(msg)
	if n, err := in.Read(buf); n != len(msg) || err != nil {
		t.Errorf("read outside probe mode = %d, %v; want %d, nil", n, err, len(msg))
	}
	peer.Close()
	in.probe = true
	for range 10000 {
		if n, err := in.Read(buf); n != 0 || !errors.Is(err, errWouldBlock) {
			if err == nil || errors.Is(err, errWouldBlock) {
				t.Fatalf("probe after the peer closed = %d, %v; want 0 and an end", n, err)
			}
			return // io.EOF
		}
	}
	t.Error("probe never saw the peer's close")
}

package driver

import (
	"context"
	"crypto/tls"
	"net"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/workload"
)

// startFake runs a fake CCS server with cfg (TrackIDs forced on) on a
// loopback port until the test ends.
func startFake(t testing.TB, cfg fakeccs.Config) *fakeccs.Server {
	t.Helper()
	cfg.TrackIDs = true
	srv, err := fakeccs.New(cfg)
	if err != nil {
		t.Fatalf("fakeccs.New: %v", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	for srv.Addr() == nil {
		time.Sleep(time.Millisecond)
	}
	return srv
}

// fakeConfig returns a driver Config aimed at srv.
func fakeConfig(srv *fakeccs.Server) Config {
	c := srv.Config()
	return Config{
		Target:   srv.Addr().String(),
		SenderID: c.SenderID,
		APIKey:   c.APIKey,
		TLS:      &tls.Config{RootCAs: srv.CertPool()},
	}
}

// run runs the driver with cfg and checks what every run must satisfy:
// the identity, no unresolved message, no window violation, and as many
// unique ids at the fake as messages at the driver.
func run(t *testing.T, srv *fakeccs.Server, cfg Config) *Result {
	t.Helper()
	d, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	res, err := d.Run(ctx)
	if err != nil {
		t.Fatalf("Run: %v", err)
	}
	st := srv.Stats()
	t.Logf("counts %+v", res.Counts)
	t.Logf("fake: received %d unique %v acks %d nacks %v drains %d drops %d window_violations %d upstream %d/%d receipts %d/%d",
		st.Received, deref(st.UniqueIDs), st.Acks, st.Nacks, st.Drains, st.Drops, st.WindowViolations,
		st.UpstreamSent, st.UpstreamAcked, st.ReceiptsSent, st.ReceiptsAcked)
	if err := res.Check(); err != nil {
		t.Errorf("Check: %v", err)
	}
	if st.WindowViolations != 0 {
		t.Errorf("fake window_violations = %d; want 0", st.WindowViolations)
	}
	if st.UniqueIDs == nil || *st.UniqueIDs != res.Counts.Messages {
		t.Errorf("fake unique_ids = %v; want driver messages %d", deref(st.UniqueIDs), res.Counts.Messages)
	}
	if res.Counts.Messages == 0 {
		t.Errorf("no message sent")
	}
	return res
}

func deref(p *uint64) any {
	if p == nil {
		return nil
	}
	return *p
}

func TestRunPlain(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{})
	cfg := fakeConfig(srv)
	cfg.Conns = 4
	cfg.Pacer = workload.ConstantPacer{Freq: 2000}
	cfg.Duration = 500 * time.Millisecond
	res := run(t, srv, cfg)
	if res.Counts.Acked != res.Counts.Messages {
		t.Errorf("acked %d of %d", res.Counts.Acked, res.Counts.Messages)
	}
	if got := res.Counts.Messages; got < 900 || got > 1000 {
		t.Errorf("messages = %d; want about 1000 (2000/s for 0.5 s)", got)
	}
}

func TestRunUnlimited(t *testing.T) {
	t.Parallel()
	srv := startFake(t, fakeccs.Config{})
	cfg := fakeConfig(srv)
	cfg.Conns = 2
	cfg.Messages = 20000
	res := run(t, srv, cfg)
	if res.Counts.Messages != 20000 || res.Counts.Acked != 20000 {
		t.Errorf("messages %d acked %d; want 20000 each", res.Counts.Messages, res.Counts.Acked)
	}
}

package fakeccstest_test

import (
	"context"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
)

// TestStartServesAndAccounts dials the harness's server, sends a message
// and checks that Close reports it in the final stats.
func TestStartServesAndAccounts(t *testing.T) {
	t.Parallel()
	srv := fakeccstest.Start(t, fakeccs.Config{TrackIDs: true})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cfg := srv.Config()
	c, err := ccs.Dial(ctx, srv.Addr(), ccs.ClientConfig{SenderID: cfg.SenderID, APIKey: cfg.APIKey, TLS: srv.ClientTLS()})
	if err != nil {
		t.Fatalf("Dial(%s): %v", srv.Addr(), err)
	}
	defer c.Close()
	if _, err := c.Write(ccs.AppendDownstream(nil, []byte(`{"to":"r1","message_id":"m-1"}`))); err != nil {
		t.Fatalf("Write: %v", err)
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	var jr ccs.JSONReader
	var m ccs.Message
	for {
		st, err := c.Framer.Next()
		if err != nil {
			t.Fatalf("reading the answer: %v", err)
		}
		if st.Kind == ccs.KindMessage && st.HasGCM && jr.Parse(st.GCM, &m) == nil && m.Type == ccs.TypeAck {
			break
		}
	}
	c.Close()
	st, err := srv.Close()
	if err != nil {
		t.Fatalf("Close: %v", err)
	}
	if st.Received != 1 || st.Acks != 1 || st.UniqueIDs == nil || *st.UniqueIDs != 1 {
		t.Errorf("Close stats: received %d acks %d unique %v; want 1, 1, 1", st.Received, st.Acks, st.UniqueIDs)
	}
	if again, err2 := srv.Close(); err2 != nil || again.Received != st.Received {
		t.Errorf("second Close = %+v, %v; want the same stats and no error", again, err2)
	}
}

// TestNewServerBadConfig refuses a configuration fakeccs refuses.
func TestNewServerBadConfig(t *testing.T) {
	t.Parallel()
	if srv, err := fakeccstest.NewServer(fakeccs.Config{AckDelay: -time.Second}); err == nil {
		srv.Close()
		t.Fatal("NewServer with a negative ack delay succeeded; want an error")
	}
}

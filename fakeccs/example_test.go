package fakeccs_test

import (
	"context"
	"fmt"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
)

// A fake CCS server on a loopback port, as a test starts one with
// fakeccstest (fakeccstest.Start(t, cfg) in a test): every tenth message
// is NACKed SERVICE_UNAVAILABLE, answers come after 5 ms, and Close
// returns the final stats with the accounting identity checked.
func Example() {
	srv, err := fakeccstest.NewServer(fakeccs.Config{
		AckDelay: 5 * time.Millisecond,
		Nack:     []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: 0.1}},
		TrackIDs: true,
	})
	if err != nil {
		panic(err)
	}
	c, err := ccs.Dial(context.Background(), srv.Addr(), ccs.ClientConfig{
		SenderID: fakeccs.DefaultSenderID,
		APIKey:   fakeccs.DefaultAPIKey,
		TLS:      srv.ClientTLS(),
	})
	if err != nil {
		panic(err)
	}
	c.Write(ccs.AppendDownstream(nil, []byte(`{"to":"REGID","message_id":"m-1","data":{"hello":"world"}}`)))
	st, err := c.Framer.Next()
	if err != nil {
		panic(err)
	}
	var jr ccs.JSONReader
	var m ccs.Message
	jr.Parse(st.GCM, &m)
	fmt.Printf("%s %s from %s\n", m.Type, m.MessageID.Str, m.From.Str)
	c.Close()

	stats, err := srv.Close()
	fmt.Printf("received %d, unique ids %d, acks %d; identity: %v\n", stats.Received, *stats.UniqueIDs, stats.Acks, err)
	// Output:
	// ack m-1 from REGID
	// received 1, unique ids 1, acks 1; identity: <nil>
}

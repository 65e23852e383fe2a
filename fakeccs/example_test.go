package fakeccs_test

import (
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/fakeccs"
)

// A fake CCS server embedded in a program or test: every tenth message is
// NACKed SERVICE_UNAVAILABLE, answers come after 5 ms.
func Example() {
	srv, err := fakeccs.New(fakeccs.Config{
		AckDelay: 5 * time.Millisecond,
		Nack:     []fakeccs.NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: 0.1}},
		TrackIDs: true,
	})
	if err != nil {
		panic(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	go srv.Serve(ln)
	defer srv.Close()

	c, err := ccs.Dial(context.Background(), ln.Addr().String(), ccs.ClientConfig{
		SenderID: fakeccs.DefaultSenderID,
		APIKey:   fakeccs.DefaultAPIKey,
		TLS:      &tls.Config{RootCAs: srv.CertPool()},
	})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	c.Write(ccs.AppendDownstream(nil, []byte(`{"to":"REGID","message_id":"m-1","data":{"hello":"world"}}`)))
	st, err := c.Framer.Next()
	if err != nil {
		panic(err)
	}
	var jr ccs.JSONReader
	var m ccs.Message
	jr.Parse(st.GCM, &m)
	fmt.Printf("%s %s from %s\n", m.Type, m.MessageID.Str, m.From.Str)
	fmt.Println("unique ids:", *srv.Stats().UniqueIDs)
	// Output:
	// ack m-1 from REGID
	// unique ids: 1
}

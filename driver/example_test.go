package driver_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/ccsbench/ccsbench/driver"
	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
	"github.com/ccsbench/ccsbench/workload"
)

// A run of 2000 messages at 20,000 a second over 4 connections, against
// a fake CCS server on a loopback port.
func Example() {
	srv, err := fakeccstest.NewServer(fakeccs.Config{})
	if err != nil {
		log.Fatal(err)
	}
	defer srv.Close()

	d, err := driver.New(driver.Config{
		Target:   srv.Addr(),
		SenderID: srv.Config().SenderID,
		APIKey:   srv.Config().APIKey,
		TLS:      srv.ClientTLS(),
		Conns:    4,
		Pacer:    workload.ConstantPacer{Freq: 20000},
		Messages: 2000,
		Duration: 10 * time.Second,
	})
	if err != nil {
		log.Fatal(err) // a *driver.ConfigError names the field
	}
	res, err := d.Run(context.Background())
	if err != nil {
		log.Fatal(err) // a *driver.DialError names the connection
	}
	c := res.Counts
	fmt.Printf("messages %d, acked %d, unresolved %d\n", c.Messages, c.Acked, c.Unresolved)
	fmt.Println("accounting:", res.Check())
	// Output:
	// messages 2000, acked 2000, unresolved 0
	// accounting: <nil>
}

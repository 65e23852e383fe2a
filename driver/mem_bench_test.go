package driver

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/fakeccs/fakeccstest"
	"github.com/ccsbench/ccsbench/workload"
)

// childFakeEnv makes the test binary a fake CCS server (see TestMain), so
// that a benchmark measures the driver's memory without the fake's.
const childFakeEnv = "CCSBENCH_DRIVER_CHILD_FAKE"

func TestMain(m *testing.M) {
	if os.Getenv(childFakeEnv) != "" {
		os.Exit(serveChildFake())
	}
	os.Exit(m.Run())
}

// serveChildFake runs a fake on a loopback port, writes its address and
// certificate (PEM) to stdout, and serves until stdin closes.
func serveChildFake() int {
	srv, err := fakeccstest.NewServer(fakeccs.Config{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fmt.Printf("%s\n%s", srv.Addr(), srv.CertPEM())
	_, _ = io.Copy(io.Discard, os.Stdin)
	if _, err := srv.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

// startChildFake starts the test binary as a fake server in a process of
// its own and returns a driver Config aimed at it.
func startChildFake(b *testing.B) Config {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), childFakeEnv+"=1")
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		b.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		b.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil {
			b.Errorf("child fake: %v", err)
		}
	})
	r := bufio.NewReader(stdout)
	addr, err := r.ReadString('\n')
	if err != nil {
		b.Fatalf("child fake: %v", err)
	}
	var pem strings.Builder
	for !strings.Contains(pem.String(), "-----END CERTIFICATE-----") {
		line, err := r.ReadString('\n')
		if err != nil {
			b.Fatalf("child fake certificate: %v", err)
		}
		pem.WriteString(line)
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(pem.String())) {
		b.Fatal("child fake: no certificate")
	}
	return Config{
		Target:   strings.TrimSpace(addr),
		SenderID: fakeccs.DefaultSenderID,
		APIKey:   fakeccs.DefaultAPIKey,
		TLS:      &tls.Config{RootCAs: pool},
	}
}

// driverMemory runs the driver with conns connections at 10 messages a
// second each against the child fake, and returns the heap and stack in
// use (bytes) after a collection, half a second into sending.
func driverMemory(b *testing.B, base Config, conns int) uint64 {
	cfg := base
	cfg.Conns = conns
	cfg.Pacer = workload.ConstantPacer{Freq: float64(10 * conns)}
	cfg.Duration = time.Second
	d, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	type sample struct{ heap, stack uint64 }
	got := make(chan sample, 1)
	go func() {
		for !d.started.Load() {
			time.Sleep(time.Millisecond)
		}
		time.Sleep(500 * time.Millisecond)
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		got <- sample{ms.HeapInuse, ms.StackInuse}
	}()
	res, err := d.Run(context.Background())
	if err != nil {
		b.Fatal(err)
	}
	if err := res.Check(); err != nil {
		b.Fatal(err)
	}
	s := <-got
	return s.heap + s.stack
}

// BenchmarkConnMemory reports what one connection costs the driver: the
// heap and goroutine stacks in use with 1000 connections, less those with
// 8, per connection added, each connection sending 10 messages a second
// to a fake in another process. (The resident set of a whole run, which
// also holds what the runtime keeps for reuse, is in results/scale.md.)
func BenchmarkConnMemory(b *testing.B) {
	base := startChildFake(b)
	const small, large = 8, 1000
	var per float64
	for b.Loop() {
		lo := driverMemory(b, base, small)
		hi := driverMemory(b, base, large)
		per = (float64(hi) - float64(lo)) / (large - small)
	}
	b.ReportMetric(per, "B/conn")
	b.ReportMetric(0, "ns/op")
}

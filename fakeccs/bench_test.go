package fakeccs

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// messageStream returns n downstream stanzas with distinct ids.
func messageStream(n int, extra string) []byte {
	var b []byte
	for i := range n {
		p := fmt.Sprintf(`{"to":"APA91bHun4MxP5egoKMwt2KZFBaFUH-1RYqx","message_id":"m-%07d","time_to_live":600,"data":{"hello":"world","n":"%d"}%s}`, i, i, extra)
		b = ccs.AppendDownstream(b, []byte(p))
	}
	return b
}

// pathConn returns a connection of a server with cfg whose framer reads n
// messages from memory, for measuring the per-message path without I/O.
func pathConn(t testing.TB, cfg Config, n int) *conn {
	c, _ := memServerConn(t, newServer(t, cfg), messageStream(n, ""))
	return c
}

// step handles the next message and discards the answers, as a write
// would, so that the state stays steady.
func (c *conn) step(t testing.TB) {
	st, err := c.in.fr.Next()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.handle(st); err != nil {
		t.Fatal(err)
	}
	for c.out.held.len() > 0 {
		c.release(c.out.held.pop())
	}
	c.out.buf = c.out.buf[:0]
	c.out.released, c.out.answers = c.in.received, 0
}

// nopObserver observes every event and keeps nothing: what the fake's
// side of the Observer hook costs.
type nopObserver struct{}

func (nopObserver) Bind(ConnInfo) ConnObserver                                   { return nopObserver{} }
func (nopObserver) Read([]byte, time.Duration, uint64)                           {}
func (nopObserver) Leftover([]byte, time.Duration)                               {}
func (nopObserver) Answer([]byte, AnswerKind, string)                            {}
func (nopObserver) Flush(time.Duration, bool)                                    {}
func (nopObserver) Drain(time.Duration, bool)                                    {}
func (nopObserver) Upstream([]byte, bool, bool, time.Duration)                   {}
func (nopObserver) UpstreamAck([]byte, bool, bool, time.Duration, time.Duration) {}
func (nopObserver) BadAck([]byte, bool, time.Duration)                           {}
func (nopObserver) End(time.Duration, EndCause)                                  {}

func TestMessagePathAllocs(t *testing.T) { // not parallel: AllocsPerRun forbids it
	faults := Config{AckDelay: time.Millisecond, AckJitter: time.Millisecond, CanonicalRate: 0.5,
		Nack: []NackRule{{"SERVICE_UNAVAILABLE", 0.2}}, BadRegistration: []string{"x*"},
		BadRegistrationShare: 0.1, UnregisteredShare: 0.1}
	observed := faults
	observed.Observer = nopObserver{}
	for _, cfg := range []Config{{}, faults, observed} {
		const warm, runs = RecentIDs + 100, 1000
		c := pathConn(t, cfg, warm+runs+10)
		if cfg.Observer != nil {
			c.obs = cfg.Observer.Bind(ConnInfo{})
		}
		for range warm {
			c.step(t)
		}
		if n := testing.AllocsPerRun(runs, func() { c.step(t) }); n != 0 {
			t.Errorf("config %+v: %v allocations per message; want 0", cfg, n)
		}
		if c.delta[cAcks] == 0 {
			t.Fatalf("no ACKs counted: %v", c.delta)
		}
	}
}

// BenchmarkMessagePath measures the fake's work per downstream message
// (frame, parse, validate, encode the ACK) without TLS or syscalls.
func BenchmarkMessagePath(b *testing.B) {
	const chunk = 1 << 16
	srv := newServer(b, Config{})
	stream := messageStream(chunk, "")
	c, _ := memServerConn(b, srv, stream)
	b.ReportAllocs()
	b.SetBytes(int64(len(stream) / chunk))
	b.ResetTimer()
	for i := range b.N {
		if i > 0 && i%chunk == 0 {
			b.StopTimer()
			c, _ = memServerConn(b, srv, stream)
			b.StartTimer()
		}
		c.step(b)
	}
}

// BenchmarkFakeTLS8x100 measures the fake end to end: 8 TLS connections on
// loopback, each kept at 100 messages in flight by a pipelined client
// (pre-encoded stanzas, a reader that counts </message>). The client runs
// in the same process, on the same two cores.
func BenchmarkFakeTLS8x100(b *testing.B) {
	benchTLS(b, Config{}, 8)
}

// BenchmarkFakeTLS8x100TrackIDs is BenchmarkFakeTLS8x100 with
// Config.TrackIDs (the shared id set).
func BenchmarkFakeTLS8x100TrackIDs(b *testing.B) {
	benchTLS(b, Config{TrackIDs: true}, 8)
}

func benchTLS(b *testing.B, cfg Config, conns int) {
	srv := startServer(b, cfg)
	clients := dialPipelined(b, srv, conns)
	quota := (b.N + conns - 1) / conns
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu0 := time.Now(), cpuTime()
	pipeline(b, clients, quota)
	el, cpu := time.Since(start), cpuTime()-cpu0
	b.StopTimer()
	b.ReportMetric(float64(quota*conns)/el.Seconds(), "acks/s")
	// CPU time of the process (fake and client) per ACK: what the
	// throughput would be on idle cores, whatever else the machine runs.
	b.ReportMetric(float64(cpu.Nanoseconds())/float64(quota*conns), "cpu-ns/ack")
	st := waitStats(b, srv, "every ACK counted", func(s Stats) bool { return s.Acks >= uint64(quota*conns) })
	if st.WindowViolations != 0 {
		b.Fatalf("window_violations %d; want 0", st.WindowViolations)
	}
}

// dialPipelined opens n connections to srv for pipeline.
func dialPipelined(tb testing.TB, srv *Server, n int) []*ccs.Conn {
	tb.Helper()
	clients := make([]*ccs.Conn, n)
	for i := range clients {
		c, err := ccs.Dial(context.Background(), srv.Addr().String(), clientConfig(srv))
		if err != nil {
			tb.Fatal(err)
		}
		tb.Cleanup(func() { c.Close() })
		clients[i] = c
	}
	return clients
}

// pipeline sends quota messages on each client as fast as the window
// allows: a correct client at full load, kept at 100 messages in flight by
// a writer (pre-encoded stanzas, many per write) and a reader that counts
// </message> (every answer ends with it; nothing else is sent).
func pipeline(tb testing.TB, clients []*ccs.Conn, quota int) {
	const pool = 4 * RecentIDs // ids recur only after the duplicate check forgot them
	stanzas := messageStream(pool, "")
	ends := make([]int, 0, pool) // end offset of each stanza in stanzas
	for i := 0; i < len(stanzas); {
		j := bytes.Index(stanzas[i:], []byte("</message>")) + len("</message>")
		i += j
		ends = append(ends, i)
	}
	var wg sync.WaitGroup
	for _, c := range clients {
		c.SetDeadline(time.Now().Add(time.Minute))
		var acked atomic.Int64
		notify := make(chan struct{}, 1)
		wg.Add(2)
		go func() { // writer: keeps 100 in flight
			defer wg.Done()
			sent, next := 0, 0
			for sent < quota {
				n := min(ccs.MaxPending-(sent-int(acked.Load())), quota-sent)
				if n <= 0 {
					if _, ok := <-notify; !ok {
						return // the reader failed
					}
					continue
				}
				// Stanzas next..next+n-1 of the pool, possibly wrapping.
				for n > 0 {
					k := min(n, pool-next)
					from := 0
					if next > 0 {
						from = ends[next-1]
					}
					if _, err := c.Write(stanzas[from:ends[next+k-1]]); err != nil {
						tb.Error(err)
						return
					}
					n -= k
					sent += k
					next = (next + k) % pool
				}
			}
		}()
		go func() { // reader: counts answers
			defer wg.Done()
			defer close(notify)
			buf := make([]byte, 64<<10)
			tag := []byte("</message>")
			carry := 0
			got := 0
			for got < quota {
				n, err := c.Read(buf[carry:])
				if err != nil {
					tb.Error(err)
					return
				}
				data := buf[:carry+n]
				k := bytes.Count(data, tag)
				got += k
				acked.Add(int64(k))
				select {
				case notify <- struct{}{}:
				default:
				}
				// Keep what may be the start of a tag split by this read.
				tail := data
				if last := bytes.LastIndex(data, tag); last >= 0 {
					tail = data[last+len(tag):]
				}
				if len(tail) >= len(tag) {
					tail = tail[len(tail)-len(tag)+1:]
				}
				carry = copy(buf, tail)
			}
		}()
	}
	wg.Wait()
}

// cpuTime returns the user and system CPU time of the process so far.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// TestIdleConnectionMemory opens idle authenticated connections from a
// child process (so that only the server is in this heap) and checks the
// server's heap and stack growth per connection.
func TestIdleConnectionMemory(t *testing.T) {
	if os.Getenv("FAKECCS_IDLE_ADDR") != "" {
		t.Skip("child process")
	}
	if testing.Short() {
		t.Skip("opens 200 connections")
	}
	const n = 200
	srv := startServer(t, Config{})
	inuse := func() uint64 {
		var m runtime.MemStats
		runtime.GC()
		runtime.GC()
		runtime.ReadMemStats(&m)
		return m.HeapInuse + m.StackInuse
	}
	before := inuse()
	cmd := exec.Command(os.Args[0], "-test.run=^TestIdleClientsHelper$", "-test.count=1", "-test.v")
	cmd.Env = append(os.Environ(), "FAKECCS_IDLE_ADDR="+srv.Addr().String(), "FAKECCS_IDLE_N="+strconv.Itoa(n),
		"FAKECCS_IDLE_CA="+string(srv.CertPEM()))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		cmd.Wait()
	}()
	ready := make(chan bool, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		ok := false
		for sc.Scan() {
			if sc.Text() == "IDLE-READY" {
				ok = true
				break
			}
		}
		ready <- ok
		io.Copy(io.Discard, stdout)
	}()
	select {
	case ok := <-ready:
		if !ok {
			t.Fatal("the client process failed")
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the client process did not connect in 30s")
	}
	waitStats(t, srv, "200 connections", func(s Stats) bool { return s.ActiveConnections == n })
	after := inuse()
	per := (int64(after) - int64(before)) / n
	t.Logf("server memory per idle authenticated connection: %d bytes (heap+stack in use, %d connections)", per, n)
	if per > 64<<10 {
		t.Errorf("%d bytes per idle connection; want at most 64 KiB", per)
	}
}

// TestIdleClientsHelper is the child process of TestIdleConnectionMemory:
// it opens FAKECCS_IDLE_N connections and holds them until stdin closes.
func TestIdleClientsHelper(t *testing.T) {
	addr := os.Getenv("FAKECCS_IDLE_ADDR")
	if addr == "" {
		t.Skip("run by TestIdleConnectionMemory")
	}
	n, _ := strconv.Atoi(os.Getenv("FAKECCS_IDLE_N"))
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM([]byte(os.Getenv("FAKECCS_IDLE_CA"))) {
		t.Fatal("bad FAKECCS_IDLE_CA")
	}
	var conns []*ccs.Conn
	for range n {
		c, err := ccs.Dial(context.Background(), addr, ccs.ClientConfig{
			SenderID: DefaultSenderID, APIKey: DefaultAPIKey, TLS: &tls.Config{RootCAs: pool}, Timeout: ioTimeout,
			Framer: ccs.FramerConfig{ReadSize: 4096},
		})
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
	}
	fmt.Println("IDLE-READY")
	io.Copy(io.Discard, os.Stdin)
	for _, c := range conns {
		c.Close()
	}
}

// BenchmarkAckDelayLateness measures how late delayed answers arrive
// (beyond Config.AckDelay = 2 ms), seen by a client on loopback that
// sends one message every 300 µs: the waker's punctuality plus the
// client's own read latency. It reports p50 and p99 in µs.
func BenchmarkAckDelayLateness(b *testing.B) {
	const delay = 2 * time.Millisecond
	srv := startServer(b, Config{AckDelay: delay})
	c := dial(b, srv)
	sendT := make([]time.Time, b.N)
	late := make([]time.Duration, b.N)
	done := make(chan struct{})
	b.ResetTimer()
	go func() {
		defer close(done)
		for range b.N {
			st, err := c.c.Framer.Next()
			if err != nil {
				b.Error(err)
				return
			}
			now := time.Now()
			var m ccs.Message
			c.jr.Parse(st.GCM, &m)
			i, _ := strconv.Atoi(strings.TrimPrefix(string(m.MessageID.Str), "m-"))
			late[i] = now.Sub(sendT[i]) - delay
		}
	}()
	for i := range b.N {
		sendT[i] = time.Now()
		c.send(`{"to":"r","message_id":"m-` + strconv.Itoa(i) + `"}`)
		time.Sleep(300 * time.Microsecond)
	}
	<-done
	b.StopTimer()
	slices.Sort(late)
	b.ReportMetric(float64(late[b.N/2].Microseconds()), "p50-late-µs")
	b.ReportMetric(float64(late[b.N*99/100].Microseconds()), "p99-late-µs")
}

// BenchmarkConnChurn measures a connection's whole life on loopback, as
// --drain-every churns them: TLS dial, stream handshake, 100 messages and
// their ACKs, the client's stream end. B/op counts both sides; profile
// with -memprofile to see the server's share.
func BenchmarkConnChurn(b *testing.B) {
	srv := startServer(b, Config{})
	msgs := messageStream(100, "")
	cfg := clientConfig(srv)
	b.ReportAllocs()
	for b.Loop() {
		c, err := ccs.Dial(context.Background(), srv.Addr().String(), cfg)
		if err != nil {
			b.Fatal(err)
		}
		c.SetDeadline(time.Now().Add(ioTimeout))
		if _, err := c.Write(msgs); err != nil {
			b.Fatal(err)
		}
		for n := 0; n < 100; {
			st, err := c.Framer.Next()
			if err != nil {
				b.Fatal(err)
			}
			if st.Kind == ccs.KindMessage {
				n++
			}
		}
		c.Write([]byte(ccs.StreamEnd))
		for {
			st, err := c.Framer.Next()
			if err != nil || st.Kind == ccs.KindStreamEnd {
				break
			}
		}
		c.Close()
	}
}

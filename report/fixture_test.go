package report

import (
	"bytes"
	"flag"
	"maps"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// update rewrites golden files: go test ./report -update
var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// fixtureStart is the fixed start time of synthetic results.
var fixtureStart = time.Date(2026, 11, 27, 3, 41, 0, 0, time.UTC)

// newHist returns an empty histogram with the geometry the driver uses:
// 1 µs to 60 s, 3 significant digits.
func newHist() *hdrhistogram.Histogram {
	return hdrhistogram.New(1, 60_000_000, 3)
}

// fixture describes a synthetic run.
type fixture struct {
	label      string
	seed       uint64
	messages   int     // recorded latencies
	medianUS   float64 // median service time in µs
	sigma      float64 // log-normal shape
	queueUS    float64 // extra response time on top of service time
	nacks      map[string]uint64
	seconds    int
	rate       float64
	stanzaErrs uint64
	unresolved uint64
	lost       uint64
	// disconnects by cause, spread over the timeline's first seconds;
	// strays by kind.
	disconnects map[string]uint64
	strays      map[string]uint64
	// handshakeUS, when set, is the median handshake time of the run's 8
	// connections (and 2 replacements): the run has connection figures.
	handshakeUS float64
}

// build makes a deterministic Result from f, with histograms, summaries,
// counts satisfying the accounting identity and a timeline.
func (f fixture) build(t testing.TB) *Result {
	t.Helper()
	rng := rand.New(rand.NewPCG(f.seed, f.seed^0x9e3779b97f4a7c15))
	svc, rsp := newHist(), newHist()
	for range f.messages {
		v := f.medianUS * math.Exp(f.sigma*rng.NormFloat64())
		v = min(max(v, 1), 50_000_000)
		if err := svc.RecordValue(int64(v)); err != nil {
			t.Fatal(err)
		}
		q := rng.ExpFloat64() * f.queueUS
		if err := rsp.RecordValue(int64(min(v+q, 50_000_000))); err != nil {
			t.Fatal(err)
		}
	}
	se, err := EncodeHistogram(svc)
	if err != nil {
		t.Fatal(err)
	}
	re, err := EncodeHistogram(rsp)
	if err != nil {
		t.Fatal(err)
	}
	var nacked uint64
	nacks := map[string]uint64{}
	for k, v := range f.nacks {
		nacks[k] = v
		nacked += v
	}
	acked := uint64(f.messages)
	msgs := acked + nacked + f.stanzaErrs + f.lost + f.unresolved
	secs := max(f.seconds, 1)
	var tl []TimelinePoint
	per := msgs / uint64(secs)
	var disc, strays uint64
	for _, v := range f.disconnects {
		disc += v
	}
	for _, v := range f.strays {
		strays += v
	}
	for s := 1; s <= secs; s++ {
		jitter := 1 + 0.02*math.Sin(float64(s)+float64(f.seed))
		pend := uint64(400 + 100*math.Cos(float64(s)*0.7+float64(f.seed)))
		p99 := f.medianUS * 3 * (1 + 0.1*math.Sin(float64(s)*1.3))
		pt := TimelinePoint{
			TS:          float64(s),
			Sent:        uint64(float64(per) * jitter),
			Acked:       uint64(float64(per) * jitter * 0.98),
			Nacked:      nacked / uint64(secs),
			Pending:     pend,
			PendingPeak: pend + uint64(300*math.Abs(math.Sin(float64(s)*0.9))),
			P99US:       p99,
			RP99US:      p99 + 2*f.queueUS,
		}
		if uint64(s) <= disc {
			pt.Disconnects = 1
		}
		tl = append(tl, pt)
	}
	res := &Result{
		Schema: Schema,
		Tool:   Tool{Version: "v0.1.0-test", Go: "go1.26.8", Client: "native"},
		Config: map[string]any{
			"conns": 8, "window": 100, "rate": f.rate, "duration": "10s",
			"payload-bytes": 128, "seed": 1, "api-key": "sekrit-value",
		},
		Target:    "embedded",
		StartedAt: fixtureStart,
		DurationS: float64(secs),
		Counts: Counts{Messages: msgs, Acked: acked, Nacked: nacked, Nacks: nacks, StanzaErrors: f.stanzaErrs, Lost: f.lost, Unresolved: f.unresolved,
			Retries: 12, Reconnects: 2, Draining: 1, Upstream: 40, Receipts: 7,
			Disconnects: orEmpty(f.disconnects), Strays: strays, StrayKinds: orEmpty(f.strays)},
		Throughput: Throughput{AckedPerS: float64(acked) / float64(secs), OfferedPerS: f.rate},
		LatencyUS:  Latency{Service: Summarize(svc), Response: Summarize(rsp)},
		Histograms: Histograms{Service: se, Response: re},
		Timeline:   tl,
		Label:      f.label,
	}
	if f.handshakeUS > 0 {
		hs := newHist()
		for range 10 {
			if err := hs.RecordValue(int64(f.handshakeUS * math.Exp(0.4*rng.NormFloat64()))); err != nil {
				t.Fatal(err)
			}
		}
		if res.Histograms.Handshake, err = EncodeHistogram(hs); err != nil {
			t.Fatal(err)
		}
		res.Connect = &Connect{Conns: 8, AllConnectedS: 4 * f.handshakeUS / 1e6, Handshakes: 10, HandshakeUS: Summarize(hs)}
	}
	return res
}

// orEmpty returns a copy of m, empty rather than nil, as Decode makes it.
func orEmpty(m map[string]uint64) map[string]uint64 {
	out := map[string]uint64{}
	maps.Copy(out, m)
	return out
}

// baseFixture is a typical healthy run.
var baseFixture = fixture{
	label: "base.json", seed: 1, messages: 50_000, medianUS: 420, sigma: 0.5, queueUS: 30,
	nacks: map[string]uint64{"BAD_REGISTRATION": 13, "DEVICE_UNREGISTERED": 4}, seconds: 10, rate: 5000,
	handshakeUS: 2400,
}

// slowFixture is a run with higher latency and lower rate, some messages
// lost with their connections, and strays.
var slowFixture = fixture{
	label: "new.json", seed: 2, messages: 46_000, medianUS: 610, sigma: 0.6, queueUS: 400,
	nacks: map[string]uint64{"BAD_REGISTRATION": 11, "INVALID_JSON": 2}, seconds: 10, rate: 5000,
	lost: 3, disconnects: map[string]uint64{"stream_error:internal-server-error": 3, "eof": 1},
	strays: map[string]uint64{"duplicate": 5},
}

// golden compares got with testdata/name, rewriting it under -update.
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./report -update to create it)", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("%s differs from the output (run go test ./report -update after checking the change); got:\n%s", path, truncate(got, 4000))
	}
}

// truncate shortens b for failure messages.
func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "\n..."
}

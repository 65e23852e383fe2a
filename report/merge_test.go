package report

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestMergeExact(t *testing.T) {
	t.Parallel()
	slow := slowFixture
	slow.handshakeUS = 3100
	a, b := baseFixture.build(t), slow.build(t)
	b.StartedAt = a.StartedAt.Add(400 * time.Millisecond)
	b.Config["rate"] = 2500.0
	b.Config["seed"] = 2
	a.Fake = json.RawMessage(`{"acks": 10, "nacks": {"BAD_REGISTRATION": 2}, "unique_ids": null, "connections": 8}`)
	b.Fake = json.RawMessage(`{"acks": 5, "nacks": {"BAD_REGISTRATION": 1, "INVALID_JSON": 3}, "unique_ids": null, "connections": 8}`)
	a.Gates = []GateResult{{Expr: "p99<1ms"}}
	a.Counts.Unsent, b.Counts.Unsent = 3, 4

	m, warnings, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Check(); err != nil {
		t.Errorf("merged Check() = %v", err)
	}
	if m.Counts.Messages != a.Counts.Messages+b.Counts.Messages || m.Counts.Acked != a.Counts.Acked+b.Counts.Acked ||
		m.Counts.Retries != 24 || m.Counts.Unsent != 7 || m.Counts.Nacks["BAD_REGISTRATION"] != 24 || m.Counts.Nacks["INVALID_JSON"] != 2 || m.Counts.Nacks["DEVICE_UNREGISTERED"] != 4 {
		t.Errorf("merged counts = %+v", m.Counts)
	}

	// The merged histograms equal histograms recorded from all values.
	want := newHist()
	for _, r := range []*Result{a, b} {
		h, err := DecodeHistogram(r.Histograms.Service)
		if err != nil {
			t.Fatal(err)
		}
		want.Merge(h)
	}
	got, err := DecodeHistogram(m.Histograms.Service)
	if err != nil {
		t.Fatal(err)
	}
	if !got.Equals(want) || got.TotalCount() != int64(a.Counts.Acked+b.Counts.Acked) {
		t.Errorf("merged service histogram differs: %d values; want %d", got.TotalCount(), want.TotalCount())
	}
	if m.LatencyUS.Service != Summarize(want) {
		t.Errorf("merged service summary = %+v; want %+v (from the merged histogram)", m.LatencyUS.Service, Summarize(want))
	}
	avg := (a.LatencyUS.Service.P99 + b.LatencyUS.Service.P99) / 2
	if m.LatencyUS.Service.P99 == avg {
		t.Errorf("merged p99 equals the average of p99s (%v); it must come from the merged histogram", avg)
	}

	if !m.StartedAt.Equal(a.StartedAt) || m.DurationS != 10.4 {
		t.Errorf("merged span = %v + %v s; want %v + 10.4 s", m.StartedAt, m.DurationS, a.StartedAt)
	}
	if want := float64(m.Counts.Acked) / 10.4; m.Throughput.AckedPerS != want {
		t.Errorf("merged acked rate = %v; want %v", m.Throughput.AckedPerS, want)
	}
	if want := (5000.0*10 + 5000.0*10) / 10.4; m.Throughput.OfferedPerS != want {
		t.Errorf("merged offered rate = %v; want %v", m.Throughput.OfferedPerS, want)
	}

	// b's points (started 0.4 s later) land on the nearest merged second.
	if len(m.Timeline) != 10 {
		t.Fatalf("merged timeline has %d points; want 10", len(m.Timeline))
	}
	for i, pt := range m.Timeline {
		if pt.TS != float64(i+1) || pt.Sent != a.Timeline[i].Sent+b.Timeline[i].Sent || pt.Pending != a.Timeline[i].Pending+b.Timeline[i].Pending ||
			pt.P99US != max(a.Timeline[i].P99US, b.Timeline[i].P99US) {
			t.Errorf("merged timeline[%d] = %+v", i, pt)
		}
	}

	// Connections and handshakes add up, the handshake histogram is
	// merged exactly, and the merged run was connected when its slower
	// part was.
	hs := newHist()
	for _, r := range []*Result{a, b} {
		h, err := DecodeHistogram(r.Histograms.Handshake)
		if err != nil {
			t.Fatal(err)
		}
		hs.Merge(h)
	}
	wantConnect := Connect{Conns: 16, AllConnectedS: max(a.Connect.AllConnectedS, b.Connect.AllConnectedS), Handshakes: 20, HandshakeUS: Summarize(hs)}
	if m.Connect == nil || *m.Connect != wantConnect {
		t.Errorf("merged connect = %+v; want %+v", m.Connect, wantConnect)
	}

	var fake map[string]any
	if err := json.Unmarshal(m.Fake, &fake); err != nil {
		t.Fatal(err)
	}
	wantFake := map[string]any{"acks": 15.0, "connections": 16.0, "unique_ids": nil, "nacks": map[string]any{"BAD_REGISTRATION": 3.0, "INVALID_JSON": 3.0}}
	if !reflect.DeepEqual(fake, wantFake) {
		t.Errorf("merged fake = %v; want %v", fake, wantFake)
	}
	if m.Gates != nil {
		t.Errorf("merged gates = %v; want none", m.Gates)
	}

	joined := strings.Join(warnings, "\n")
	if len(warnings) != 1 || !strings.Contains(joined, "rate: 5000 vs 2500") || !strings.Contains(joined, "seed: 1 vs 2") {
		t.Errorf("warnings = %q; want one naming rate and seed", warnings)
	}
	if a.Counts.Nacks["INVALID_JSON"] != 0 || a.Config["rate"] != 5000.0 && a.Config["rate"] != float64(5000) {
		t.Errorf("Merge modified its input")
	}
}

func TestMergeWarnings(t *testing.T) {
	t.Parallel()
	a, b := baseFixture.build(t), baseFixture.build(t)
	b.Target = "10.0.0.1:5235"
	b.Tool.Version = "v0.2.0"
	b.Counts.Acked++
	b.Fake = json.RawMessage(`{"acks": 1}`)
	b.Label = "other.json"
	b.Connect, b.Histograms.Handshake = nil, ""
	m, warnings, err := Merge(a, b)
	if err != nil {
		t.Fatal(err)
	}
	if m.Connect != nil || m.Histograms.Handshake != "" {
		t.Errorf("merged connect = %+v; want none when a run has none", m.Connect)
	}
	joined := strings.Join(warnings, "\n")
	for _, want := range []string{"different targets: embedded, 10.0.0.1:5235", "v0.2.0", "accounting identity broken", "fake stats present only in other.json",
		"connection figures present only in base.json"} {
		if !strings.Contains(joined, want) {
			t.Errorf("warnings lack %q:\n%s", want, joined)
		}
	}
	if strings.Contains(joined, "sekrit") {
		t.Errorf("warnings print the API key")
	}
}

func TestMergeSameConfigAndSingle(t *testing.T) {
	t.Parallel()
	a := baseFixture.build(t)
	b := baseFixture.build(t)
	b.Config = map[string]any{}
	for k, v := range a.Config {
		b.Config[k] = v
	}
	b.Config["conns"] = 8.0                               // decoded JSON form of the same value
	b.StartedAt = b.StartedAt.Add(100 * time.Millisecond) // another machine, overlapping in time
	b.Label = "other.json"
	if _, warnings, err := Merge(a, b); err != nil || len(warnings) != 0 {
		t.Errorf("Merge(same config) = %q, %v; want no warnings", warnings, err)
	}
	m, warnings, err := Merge(a)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Merge(one) = %q, %v", warnings, err)
	}
	if m.Counts.Messages != a.Counts.Messages || m.LatencyUS != a.LatencyUS || !reflect.DeepEqual(m.Timeline, a.Timeline) {
		t.Errorf("Merge(one) changed the result")
	}
}

func TestMergeErrors(t *testing.T) {
	t.Parallel()
	if _, _, err := Merge(); err == nil {
		t.Errorf("Merge() = nil error; want one")
	}
	a := baseFixture.build(t)
	b := baseFixture.build(t)
	b.Histograms.Response = ""
	if _, _, err := Merge(a, b); err == nil || !strings.Contains(err.Error(), "response histogram") {
		t.Errorf("Merge(missing histogram) = %v; want an error naming it", err)
	}
	b = baseFixture.build(t)
	b.Fake = json.RawMessage(`{`)
	a.Fake = json.RawMessage(`{}`)
	if _, _, err := Merge(a, b); err == nil {
		t.Errorf("Merge(bad fake JSON) = nil error; want one")
	}
}

func TestMergeSpanAndDuplicateWarnings(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name  string
		setup func(a, b *Result)
		want  string // "" for no warning
	}{
		{"simultaneous", func(a, b *Result) { b.StartedAt = a.StartedAt.Add(time.Second) }, ""},
		{"one after the other", func(a, b *Result) { b.StartedAt = a.StartedAt.Add(secondsDuration(a.DurationS)) }, "do not overlap in time"},
		{"far apart", func(a, b *Result) { b.StartedAt = a.StartedAt.Add(-time.Hour) }, "do not overlap in time"},
		{"same run", func(a, b *Result) {}, "are the same run"},
		{"same file", func(a, b *Result) {
			a.Label, b.Label = "c1.json", "c1.json"
			b.StartedAt = a.StartedAt.Add(time.Second)
		}, "c1.json is given twice"},
	} {
		a, b := baseFixture.build(t), baseFixture.build(t)
		a.Label, b.Label = "r1.json", "r2.json"
		tc.setup(a, b)
		m, warnings, err := Merge(a, b)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		joined := strings.Join(warnings, "\n")
		if tc.want == "" && len(warnings) != 0 || tc.want != "" && (len(warnings) != 1 || !strings.Contains(joined, tc.want)) {
			t.Errorf("%s: warnings %q; want %q", tc.name, warnings, tc.want)
		}
		from, _ := m.Config["merged_from"].([]string)
		if len(from) != 2 || from[0] != a.Label || !strings.HasPrefix(from[1], b.Label) {
			t.Errorf("%s: merged_from = %v; want [%s %s]", tc.name, m.Config["merged_from"], a.Label, b.Label)
		}
		if _, ok := a.Config["merged_from"]; ok {
			t.Errorf("%s: Merge modified its input's config", tc.name)
		}
	}
}

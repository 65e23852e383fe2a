package report

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// firstV1Sample is a results file as the first version of schema v1 wrote
// it: no connect, lost, disconnects, strays or timeline peaks yet.
const firstV1Sample = `{ "schema": "ccsbench.result/v1",
  "tool": {"version": "v0.1.0", "go": "go1.26.8", "client": "native"},
  "config": {"conns": 8, "rate": 5000, "duration": "10s"},
  "target": "embedded",
  "started_at": "2026-11-27T03:41:00Z", "duration_s": 10.002,
  "counts": {"messages": 50010, "acked": 50000, "nacked": 7, "nacks": {"BAD_REGISTRATION": 7},
             "stanza_errors": 2, "unresolved": 1, "retries": 3, "reconnects": 1,
             "draining": 1, "upstream": 12, "receipts": 4},
  "throughput": {"acked_per_s": 4999.0, "offered_per_s": 5000.0},
  "latency_us": {"service": {"p50": 410, "p90": 700, "p99": 1200, "p999": 2100, "max": 3300, "mean": 450.5},
                 "response": {"p50": 420, "p90": 710, "p99": 1300, "p999": 2200, "max": 3400, "mean": 460.5}},
  "histograms": {"service": "", "response": ""},
  "timeline": [{"t_s": 1, "sent": 5001, "acked": 4990, "nacked": 1, "pending": 97, "p99_us": 1100}],
  "fake": {"connections": 8, "unique_ids": null}
}`

func TestDecodeFirstV1Sample(t *testing.T) {
	t.Parallel()
	r, err := Decode(strings.NewReader(firstV1Sample))
	if err != nil {
		t.Fatalf("Decode(sample) = %v", err)
	}
	if r.Counts.Messages != 50010 || r.Counts.Nacks["BAD_REGISTRATION"] != 7 || r.LatencyUS.Response.P99 != 1300 {
		t.Errorf("Decode(sample) = %+v; fields not read", r)
	}
	if r.StartedAt.Year() != 2026 || r.DurationS != 10.002 || len(r.Timeline) != 1 || r.Timeline[0].P99US != 1100 {
		t.Errorf("Decode(sample): time fields %v %v %+v", r.StartedAt, r.DurationS, r.Timeline)
	}
	if r.Connect != nil || r.Histograms.Handshake != "" {
		t.Errorf("Decode(sample without connection figures): Connect = %+v; want nil", r.Connect)
	}
	if string(r.Fake) != `{"connections": 8, "unique_ids": null}` {
		t.Errorf("Fake = %s; want the raw object", r.Fake)
	}
	if err := r.Check(); err != nil {
		t.Errorf("Check() = %v; want nil", err)
	}
}

func TestEncodeDecodeRoundTrip(t *testing.T) {
	t.Parallel()
	r := baseFixture.build(t)
	r.Fake = json.RawMessage(`{"acks":5}`)
	r.Gates = Gate{{Metric: "p99", Op: OpLT, Number: 5, Unit: "ms"}}.Evaluate(r)
	var buf bytes.Buffer
	if err := r.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	got, err := Decode(&buf)
	if err != nil {
		t.Fatalf("Decode(Encode(r)) = %v", err)
	}
	if got.Config["api-key"] != "REDACTED" {
		t.Errorf("api-key in file = %v; want REDACTED", got.Config["api-key"])
	}
	if r.Config["api-key"] != "sekrit-value" {
		t.Errorf("Encode modified the caller's config: %v", r.Config["api-key"])
	}
	if bytes.Contains(buf.Bytes(), []byte("sekrit")) {
		t.Errorf("encoded file contains the secret")
	}
	var fake bytes.Buffer
	if err := json.Compact(&fake, got.Fake); err != nil || fake.String() != `{"acks":5}` {
		t.Errorf("Fake after round trip = %s (%v); want {\"acks\":5}", got.Fake, err)
	}
	if !reflect.DeepEqual(got.Counts, r.Counts) || got.Histograms != r.Histograms || got.LatencyUS != r.LatencyUS ||
		!reflect.DeepEqual(got.Timeline, r.Timeline) || !reflect.DeepEqual(got.Gates, r.Gates) ||
		!got.StartedAt.Equal(r.StartedAt) || got.Tool != r.Tool || got.Target != r.Target || got.DurationS != r.DurationS ||
		got.Throughput != r.Throughput || got.Connect == nil || *got.Connect != *r.Connect {
		t.Errorf("round trip changed the result:\n got %+v %+v %+v\nwant %+v %+v %+v", got.Counts, got.LatencyUS, got.Gates, r.Counts, r.LatencyUS, r.Gates)
	}
	if got.Config["conns"] != float64(8) || got.Config["duration"] != "10s" {
		t.Errorf("Config after round trip = %v", got.Config)
	}
}

func TestEncodeEmptyResult(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := (&Result{}).Encode(&buf); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`"schema": "ccsbench.result/v1"`, `"nacks": {}`, `"timeline": []`, `"config": {}`} {
		if !strings.Contains(out, want) {
			t.Errorf("Encode(empty) lacks %s:\n%s", want, out)
		}
	}
	for _, absent := range []string{`"fake"`, `"gates"`, `"Label"`, `"label"`} {
		if strings.Contains(out, absent) {
			t.Errorf("Encode(empty) contains %s:\n%s", absent, out)
		}
	}
}

func TestDecodeSchema(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in        string
		found     string
		wantInMsg []string
	}{
		{`{"schema": "ccsbench.result/v2", "counts": {}}`, "ccsbench.result/v2", []string{`"ccsbench.result/v2"`, `"ccsbench.result/v1"`}},
		{`{"counts": {}}`, "", []string{"no \"schema\"", "ccsbench.result/v1"}},
		{`{"schema": "vegeta/v1"}`, "vegeta/v1", []string{"not a ccsbench results file", `"vegeta/v1"`}},
		{`{"schema": "ccsbench.result/v0"}`, "ccsbench.result/v0", []string{`"ccsbench.result/v0"`}},
	}
	for i, tt := range tests {
		_, err := Decode(strings.NewReader(tt.in))
		var se *SchemaError
		if !errors.As(err, &se) || !errors.Is(err, ErrSchema) {
			t.Errorf("%d: Decode(%s) = %v; want a *SchemaError", i, tt.in, err)
			continue
		}
		if se.Found != tt.found {
			t.Errorf("%d: Found = %q; want %q", i, se.Found, tt.found)
		}
		for _, w := range tt.wantInMsg {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%d: error %q lacks %q", i, err, w)
			}
		}
	}
}

func TestDecodeBadInput(t *testing.T) {
	t.Parallel()
	for i, in := range []string{``, `{`, `[]`, `{"schema": 5}`, `{"schema": "ccsbench.result/v1", "counts": {"messages": -1}}`, `{"schema": "ccsbench.result/v1", "started_at": "yesterday"}`} {
		if r, err := Decode(strings.NewReader(in)); err == nil {
			t.Errorf("%d: Decode(%q) = %+v, nil; want an error", i, in, r)
		}
	}
}

func TestReadWriteFile(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "r.json")
	r := baseFixture.build(t)
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	got, err := ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if got.Label != path || got.Counts.Messages != r.Counts.Messages {
		t.Errorf("ReadFile = label %q messages %d; want %q %d", got.Label, got.Counts.Messages, path, r.Counts.Messages)
	}
	if _, err := ReadFile(filepath.Join(dir, "missing.json")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("ReadFile(missing) = %v; want ErrNotExist", err)
	}
	bad := filepath.Join(dir, "v2.json")
	if err := os.WriteFile(bad, []byte(`{"schema":"ccsbench.result/v2"}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadFile(bad); !errors.Is(err, ErrSchema) || !strings.Contains(err.Error(), bad) || strings.Count(err.Error(), "report:") != 1 {
		t.Errorf("ReadFile(v2) = %v; want ErrSchema naming the file, with one package prefix", err)
	}
}

func TestCheck(t *testing.T) {
	t.Parallel()
	ok := Counts{Messages: 10, Acked: 5, Nacked: 3, Nacks: map[string]uint64{"A": 1, "B": 2}, StanzaErrors: 1, Unresolved: 1}
	tests := []struct {
		name   string
		mutate func(c *Counts)
		want   []string
	}{
		{"ok", func(c *Counts) {}, nil},
		{"lost message", func(c *Counts) { c.Messages = 11 }, []string{"messages 11"}},
		{"extra ack", func(c *Counts) { c.Acked = 6 }, []string{"acked 6"}},
		{"nacks sum", func(c *Counts) { c.Nacks = map[string]uint64{"A": 1} }, []string{"nacked 3 != sum of nacks by code 1"}},
		{"both", func(c *Counts) { c.Nacked = 4; c.Acked = 4 }, []string{"sum of nacks"}},
	}
	for _, tt := range tests {
		c := ok
		c.Nacks = map[string]uint64{"A": 1, "B": 2}
		tt.mutate(&c)
		err := (&Result{Counts: c}).Check()
		if tt.want == nil {
			if err != nil {
				t.Errorf("%s: Check() = %v; want nil", tt.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrAccounting) {
			t.Errorf("%s: Check() = %v; want ErrAccounting", tt.name, err)
			continue
		}
		for _, w := range tt.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: Check() = %q; want it to mention %q", tt.name, err, w)
			}
		}
	}
}

func TestIsSecretKey(t *testing.T) {
	t.Parallel()
	for k, want := range map[string]bool{
		"api-key": true, "api_key": true, "apiKey": true, "fake-api-key": true, "password": true, "auth-token": true,
		"conns": false, "rate": false, "sender-id": false, "target": false,
	} {
		if got := isSecretKey(k); got != want {
			t.Errorf("isSecretKey(%q) = %v; want %v", k, got, want)
		}
	}
}

func FuzzDecode(f *testing.F) {
	f.Add([]byte(firstV1Sample))
	f.Add([]byte(`{"schema":"ccsbench.result/v1"}`))
	f.Add([]byte(`{"schema":"ccsbench.result/v1","counts":{"nacks":{"X":1},"nacked":1,"messages":1},"timeline":[{"t_s":0}]}`))
	f.Add([]byte(`{"schema":"ccsbench.result/v2"}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := Decode(bytes.NewReader(data))
		if err != nil {
			return
		}
		_ = r.Check()
		var buf bytes.Buffer
		if err := r.Encode(&buf); err != nil {
			t.Fatalf("Encode of a decoded result: %v", err)
		}
		r2, err := Decode(&buf)
		if err != nil {
			t.Fatalf("Decode(Encode(Decode(x))) = %v", err)
		}
		if !reflect.DeepEqual(r.Counts, r2.Counts) || r.LatencyUS != r2.LatencyUS || len(r.Timeline) != len(r2.Timeline) {
			t.Fatalf("re-encoding changed the result")
		}
		if err := WriteSummary(io.Discard, r); err != nil {
			t.Fatalf("WriteSummary: %v", err)
		}
		if err := WriteMarkdown(io.Discard, r); err != nil {
			t.Fatalf("WriteMarkdown: %v", err)
		}
	})
}

package report

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// judgementFixture returns a scorecard of a client named name; with
// broken, its window and drain-moves rules fail and it has a judge error.
func judgementFixture(name string, broken bool) *Judgement {
	j := &Judgement{
		Schema:    JudgeSchema,
		Tool:      Tool{Version: "v1.2.3", Go: "go1.26.0", Client: name},
		Client:    JudgeClient{Name: name, InProcess: true},
		Config:    map[string]any{"messages": 2000, "api-key": "sekrit"},
		StartedAt: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
		DurationS: 31.25,
		Scenarios: []JudgeScenario{
			{Name: "throughput", Messages: 2000, Connections: 8, Logins: map[string]uint64{"SENDER@gcm.googleapis.com": 8},
				UniqueIDs: 2000, Received: 2000, Acks: 2000, AckedPerS: 150000.5, MaxPending: 100, DurationS: 0.2},
			{Name: "drain", Messages: 2000, Connections: 12, UniqueIDs: 2000, Received: 2100, Acks: 2000, AckedPerS: 90000,
				MaxPending: 100, Drains: 4, Nacks: map[string]uint64{"CONNECTION_DRAINING": 100}, DurationS: 0.4,
				DrainReactionUS: &Spread{N: 4, P50: 12, P99: 2500, Max: 2500}},
		},
		Rules: []JudgeRule{
			{ID: "handshake", Verdict: VerdictPass, Evidence: "20 connections bound in 2 scenarios"},
			{ID: "window", Verdict: VerdictPass, Evidence: "no violation in 2 scenarios; max pending 100 (throughput)"},
			{ID: "drain-moves", Verdict: VerdictPass, Evidence: "4 drains: nothing new | after the grace"},
			{ID: "retry-backoff", Verdict: VerdictSkip, Evidence: "scenario retry not run"},
		},
	}
	if broken {
		j.Client = JudgeClient{Name: name, Command: []string{"./client", "-fast"}, Log: "client.log"}
		j.Scenarios[0].TimedOut, j.Scenarios[0].Exit = true, -1
		j.Scenarios[0].WindowViolations = 57
		j.Rules[1] = JudgeRule{ID: "window", Verdict: VerdictFail, Evidence: "57 messages read with 100 or more unanswered"}
		j.Rules[2] = JudgeRule{ID: "drain-moves", Verdict: VerdictFail, Evidence: "12 messages on a draining connection"}
		j.JudgeErrors = []string{"drain: judge: the fake's accounting does not add up"}
	}
	return j
}

func TestJudgementRoundTrip(t *testing.T) {
	t.Parallel()
	j := judgementFixture("native", true)
	var buf bytes.Buffer
	if err := j.Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "sekrit") {
		t.Errorf("Encode wrote the API key:\n%s", buf.String())
	}
	if got := PeekSchema(buf.Bytes()); got != JudgeSchema {
		t.Errorf("PeekSchema = %q; want %q", got, JudgeSchema)
	}
	back, err := DecodeJudgement(&buf)
	if err != nil {
		t.Fatalf("DecodeJudgement: %v", err)
	}
	if back.Client.Name != "native" || len(back.Scenarios) != 2 || back.Scenarios[1].DrainReactionUS.P99 != 2500 ||
		back.Rules[1].Verdict != VerdictFail || len(back.JudgeErrors) != 1 || back.Config["api-key"] != "REDACTED" {
		t.Errorf("DecodeJudgement(Encode(j)) = %+v; want j back, the key redacted", back)
	}
	if back.Passed() || strings.Join(back.Failed(), ",") != "window,drain-moves" {
		t.Errorf("Passed() = %v, Failed() = %v; want false, [window drain-moves]", back.Passed(), back.Failed())
	}
	if ok := judgementFixture("x", false); !ok.Passed() {
		t.Errorf("Passed() of a scorecard without failures = false")
	}
}

func TestDecodeJudgementRefuses(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ in, want string }{
		{`{"schema":"ccsbench.result/v1"}`, "not a ccsbench judge scorecard"},
		{`{"schema":"ccsbench.judge/v9"}`, `reads only "ccsbench.judge/v1"`},
		{`{}`, "not a ccsbench judge scorecard"},
		{`[1,2`, "not valid JSON"},
		{`{"schema":"ccsbench.judge/v1","rules":"none"}`, "scorecard file"},
	} {
		_, err := DecodeJudgement(strings.NewReader(tc.in))
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("DecodeJudgement(%q) = %v; want an error with %q", tc.in, err, tc.want)
		}
		if tc.want != "not valid JSON" && tc.want != "scorecard file" && !errors.Is(err, ErrSchema) {
			t.Errorf("DecodeJudgement(%q) = %v; want it to wrap ErrSchema", tc.in, err)
		}
	}
	if _, err := Decode(strings.NewReader(`{"schema":"ccsbench.judge/v1"}`)); !errors.Is(err, ErrSchema) {
		t.Errorf("Decode(a scorecard) = %v; want ErrSchema", err)
	}
}

func TestReadJudgementFile(t *testing.T) {
	t.Parallel()
	path := filepath.Join(t.TempDir(), "native.json")
	var buf bytes.Buffer
	if err := judgementFixture("native", false).Encode(&buf); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	j, err := ReadJudgementFile(path)
	if err != nil || j.Label != path {
		t.Fatalf("ReadJudgementFile(%q) = %+v, %v; want it labelled with its path", path, j, err)
	}
	if _, err := ReadJudgementFile(path + ".missing"); err == nil {
		t.Errorf("ReadJudgementFile(a missing file) = nil error")
	}
}

func TestWriteScorecardGolden(t *testing.T) {
	t.Parallel()
	var one, two bytes.Buffer
	if err := WriteScorecard(&one, judgementFixture("native", true)); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"FAIL", "timeout", "JUDGE ERROR", "2 of 3 rules failed: window, drain-moves (1 skipped)", "150,000.5/s", "p50 12 µs, p99 2.50 ms"} {
		if !strings.Contains(one.String(), want) {
			t.Errorf("WriteScorecard lacks %q:\n%s", want, one.String())
		}
	}
	golden(t, "scorecard-one.txt", one.Bytes())
	if err := WriteScorecard(&two, judgementFixture("native", false), judgementFixture("mellium", true)); err != nil {
		t.Fatal(err)
	}
	golden(t, "scorecard-two.txt", two.Bytes())
	if err := WriteScorecard(&two); err == nil {
		t.Errorf("WriteScorecard() of nothing = nil error")
	}
}

func TestWriteJudgeMarkdownGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	if err := WriteJudgeMarkdown(&buf, judgementFixture("native", false), judgementFixture("mellium", true)); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{"| rule | native | mellium |", "| window | pass | FAIL |", "| retry-backoff | skip | skip |",
		"| throughput | 150,000.5/s | 150,000.5/s (timeout) |", "nothing new \\| after the grace", "**Judge error**"} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteJudgeMarkdown lacks %q:\n%s", want, out)
		}
	}
	golden(t, "scorecard-two.md", buf.Bytes())
}

func TestWriteJudgeHTMLGolden(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	a, b := judgementFixture("native", false), judgementFixture("<mellium>", true)
	if err := WriteJudgeHTML(&buf, a, b); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	for _, want := range []string{`<td class="fail">FAIL</td>`, `<td class="pass">pass</td>`, "&lt;mellium&gt;", "Judge error"} {
		if !strings.Contains(out, want) {
			t.Errorf("WriteJudgeHTML lacks %q", want)
		}
	}
	for _, bad := range []string{"<mellium>", "http://", "https://", "<script"} {
		if strings.Contains(out, bad) {
			t.Errorf("WriteJudgeHTML contains %q", bad)
		}
	}
	golden(t, "scorecard-two.html", buf.Bytes())
}

func TestJudgeNames(t *testing.T) {
	t.Parallel()
	a, b, c := judgementFixture("native", false), judgementFixture("native", true), judgementFixture("", false)
	a.Label, b.Label = "a.json", "b.json"
	got := strings.Join(judgeNames([]*Judgement{a, b, c, c}), ",")
	if want := "a.json,b.json,client 3,client 4"; got != want {
		t.Errorf("judgeNames = %s; want %s", got, want)
	}
}

func FuzzDecodeJudgement(f *testing.F) {
	var buf bytes.Buffer
	if err := judgementFixture("native", true).Encode(&buf); err != nil {
		f.Fatal(err)
	}
	f.Add(buf.Bytes())
	f.Add([]byte(`{"schema":"ccsbench.judge/v1","scenarios":[{"name":"x","drain_reaction_us":{"n":1}}],"rules":[{"id":"a","verdict":"fail"}]}`))
	f.Add([]byte(`{"schema":"ccsbench.judge/v1","scenarios":[{"messages":-5,"nacks":{"\u0000":1}}]}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		j, err := DecodeJudgement(bytes.NewReader(data))
		if err != nil {
			return
		}
		var out bytes.Buffer
		if err := j.Encode(&out); err != nil {
			t.Fatalf("Encode of a decoded scorecard: %v", err)
		}
		j2, err := DecodeJudgement(&out)
		if err != nil {
			t.Fatalf("DecodeJudgement(Encode(DecodeJudgement(x))) = %v", err)
		}
		if len(j2.Rules) != len(j.Rules) || len(j2.Scenarios) != len(j.Scenarios) || j2.Passed() != j.Passed() {
			t.Fatalf("re-encoding changed the scorecard")
		}
		for _, render := range []func(io.Writer, ...*Judgement) error{WriteScorecard, WriteJudgeMarkdown, WriteJudgeHTML} {
			if err := render(io.Discard, j, j2); err != nil {
				t.Fatalf("rendering: %v", err)
			}
		}
	})
}

package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ccsbench/ccsbench/ccs"
	"github.com/ccsbench/ccsbench/judge"
	"github.com/ccsbench/ccsbench/report"
)

func TestJudgeHelp(t *testing.T) {
	t.Parallel()
	code, out, _ := callCmd(judgeCmd, "-h")
	if code != 0 {
		t.Fatalf("judge -h = %d", code)
	}
	want := []string{"CCS_HOST, CCS_PORT", "CCS_SENDER_ID, CCS_API_KEY", "CCS_CA_FILE", "SSL_CERT_FILE", "NODE_EXTRA_CA_CERTS",
		"CCS_MESSAGES", "CCS_RATE", "CCS_RECEIPTS", "CCS_SCENARIO", "SIGTERM", "SIGKILL 5 s later", report.JudgeSchema,
		"Exit status: 0", "--scenario-timeout", "--client", "native|mellium"}
	for _, s := range judge.Scenarios {
		want = append(want, "  "+s.Name+" ")
	}
	for _, r := range judge.Rules {
		want = append(want, "  "+r.ID+" ")
	}
	for _, w := range want {
		if !strings.Contains(out, w) {
			t.Errorf("judge -h lacks %q", w)
		}
	}
	if strings.Contains(out, "%!") {
		t.Errorf("judge -h has a formatting error:\n%s", out)
	}
}

func TestJudgeUsageErrors(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{nil, "no client"},
		{[]string{"--client", "native", "--", "true"}, "exclude each other"},
		{[]string{"--client", "bogus"}, `--client "bogus"`},
		{[]string{"--client", "native", "--messages", "10"}, "--messages 10: at least 1000"},
		{[]string{"--client", "native", "--scenarios", "throughput,nope"}, `unknown scenario "nope"`},
		{[]string{"--client", "native", "--cert", "x.pem"}, "--cert and --key go together"},
		{[]string{"--client", "native", "--scenario-timeout", "0s"}, "--scenario-timeout 0s must be positive"},
		{[]string{"--client", "native", "--bogus"}, "unknown flag --bogus"},
		{[]string{"--client", "native", "--json", filepath.Join(dir, "missing", "x.json")}, "--json"},
	} {
		code, out, errs := callCmd(judgeCmd, tc.args...)
		if code != 2 || out != "" || !strings.Contains(errs, tc.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("judge %q = %d, stdout %q, stderr %q; want 2 and one line with %q", tc.args, code, out, errs, tc.want)
		}
	}
}

// TestJudgeNativeFiles judges the native client on two scenarios and
// checks the exit status, the scorecard, every output file and the log.
func TestJudgeNativeFiles(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	js, md, html := filepath.Join(dir, "native.json"), filepath.Join(dir, "native.md"), filepath.Join(dir, "native.html")
	code, out, errs := callCmd(judgeCmd, "--client", "native", "--messages", "1000", "--scenarios", "final,throughput",
		"--api-key", "judge-secret-key-0123", "--json", js, "--md", md, "--html", html)
	if code != 0 || !strings.Contains(out, "native: all 4 rules passed (6 skipped)") {
		t.Fatalf("judge --client native = %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	for _, w := range []string{"client output in " + filepath.Join(dir, "native.log"), "throughput exit 0 after", "final      exit 0 after"} {
		if !strings.Contains(errs, w) {
			t.Errorf("stderr lacks %q:\n%s", w, errs)
		}
	}
	j, err := report.ReadJudgementFile(js)
	if err != nil {
		t.Fatal(err)
	}
	if j.Client.Name != "native" || !j.Client.InProcess || j.Tool.Client != "native" || len(j.Scenarios) != 2 ||
		j.Scenarios[0].Name != "throughput" || j.Client.Log != filepath.Join(dir, "native.log") || j.Config["messages"] != float64(1000) {
		t.Errorf("scorecard %+v; want the native client, its 2 scenarios in order, the log and the config", j)
	}
	for _, p := range []string{js, md, html, filepath.Join(dir, "native.log")} {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte("judge-secret-key-0123")) {
			t.Errorf("%s holds the API key", p)
		}
	}
	if data, _ := os.ReadFile(filepath.Join(dir, "native.log")); !bytes.Contains(data, []byte("=== scenario final")) {
		t.Errorf("the log lacks the scenario headers:\n%s", data)
	}

	// The scorecard reads back through ccsbench report, alone and side by
	// side; it does not mix with a results file.
	code, out, errs = callCmd(reportCmd, js)
	if code != 0 || errs != "" || !strings.Contains(out, "native: all 4 rules passed") {
		t.Errorf("report native.json = %d, %q:\n%s", code, errs, out)
	}
	other := filepath.Join(dir, "other.json")
	j.Client.Name = "other"
	j.Rules[1].Verdict = report.VerdictFail
	if err := (&judgeOptions{jsonOut: other}).writeScorecards(j, nil, nil); err != nil {
		t.Fatal(err)
	}
	code, out, _ = callCmd(reportCmd, js, other, "--md", "-")
	if code != 0 || !strings.Contains(out, "| rule | native | other |") || !strings.Contains(out, "| window | pass | FAIL |") {
		t.Errorf("report a b --md - = %d:\n%s", code, out)
	}
	res := writeTestResult(t, dir, "result.json", 5000, 1000)
	if code, _, errs = callCmd(reportCmd, js, res); code != 2 || !strings.Contains(errs, "do not mix") {
		t.Errorf("report scorecard result = %d, %q; want 2 and a refusal", code, errs)
	}
	if code, _, errs = callCmd(compareCmd, js, res); code != 2 || !strings.Contains(errs, "not a ccsbench results file") {
		t.Errorf("compare scorecard result = %d, %q; want 2: a scorecard is no results file", code, errs)
	}
}

// TestJudgeFailingCommand judges a command that never connects: the
// handshake fails, every other rule is skipped, the exit status is 1.
func TestJudgeFailingCommand(t *testing.T) {
	t.Parallel()
	log := filepath.Join(t.TempDir(), "client.log")
	code, out, errs := callCmd(judgeCmd, "--messages", "1000", "--scenarios", "throughput", "--log", log, "--name", "quitter",
		"--", "sh", "-c", `echo "asked for $CCS_MESSAGES messages on $CCS_SCENARIO"`)
	if code != 1 || !strings.Contains(out, "quitter: 1 of 1 rules failed: handshake (9 skipped)") {
		t.Errorf("judge -- sh = %d\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if data, _ := os.ReadFile(log); !bytes.Contains(data, []byte("asked for 1000 messages on throughput")) {
		t.Errorf("the client's output is not in --log:\n%s", data)
	}
}

func TestLineRedactor(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	l := &lineRedactor{r: ccs.NewRedactor("123456789012", "judge-secret-key-0123"), w: &out}
	for _, chunk := range []string{"key judge-se", "cret-key-0123 here\nand judge-secret-", "key-0123"} {
		l.Write([]byte(chunk))
	}
	l.flush()
	long := strings.Repeat("x", maxLine) + " judge-secret-key-0123"
	l.Write([]byte(long))
	l.flush()
	if s := out.String(); strings.Contains(s, "judge-secret-key-0123") || strings.Count(s, ccs.Redacted) != 3 {
		t.Errorf("lineRedactor wrote %q; want the key redacted three times", s)
	}
}

// judge --json - writes the scorecard alone on standard output; the
// terminal scorecard goes to standard error, and the client's log to the
// temp directory, not beside "-".
func TestJudgeToStdout(t *testing.T) {
	t.Parallel()
	code, out, errs := callCmd(judgeCmd, "--client", "native", "--name", "native-stdout", "--messages", "1000", "--scenarios", "throughput", "--json", "-")
	if code != 0 || !strings.Contains(errs, "native-stdout: all") {
		t.Fatalf("judge --json - = %d\nstdout:\n%.300s\nstderr:\n%s", code, out, errs)
	}
	j, err := report.DecodeJudgement(strings.NewReader(out))
	if err != nil || j.Client.Name != "native-stdout" {
		t.Errorf("stdout of judge --json - is not the scorecard (%v):\n%.300s", err, out)
	}
	if j != nil && (j.Client.Log != filepath.Join(os.TempDir(), "ccsbench-judge-native-stdout.log") || strings.Contains(errs, "-.log")) {
		t.Errorf("the client's log went to %q; want the temp directory", j.Client.Log)
	}
}

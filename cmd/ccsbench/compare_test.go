package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCompareCmd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	base := writeTestResult(t, dir, "base.json", 5000, 1000)
	same := writeTestResult(t, dir, "same.json", 4990, 1020)
	slow := writeTestResult(t, dir, "slow.json", 4500, 1000)

	code, out, errs := callCmd(compareCmd, base, same)
	if code != 0 || errs != "" || !strings.Contains(out, "no regression beyond thresholds") {
		t.Errorf("compare base same = %d, %q:\n%s", code, errs, out)
	}
	code, out, _ = callCmd(compareCmd, base, slow)
	if code != 1 || !strings.Contains(out, "REGRESSION: rate (acked/s)") {
		t.Errorf("compare base slow = %d:\n%s", code, out)
	}
	if code, _, _ = callCmd(compareCmd, "--max-rate-drop", "15%", base, slow); code != 0 {
		t.Errorf("compare --max-rate-drop 15%% = %d; want 0", code)
	}
	if code, _, _ = callCmd(compareCmd, "--max-rate-drop", "off", base, slow); code != 0 {
		t.Errorf("compare --max-rate-drop off = %d; want 0", code)
	}
	code, out, _ = callCmd(compareCmd, "--gate", "rate>4995", base, same)
	if code != 3 || !strings.Contains(out, "gate rate>4995 on") || !strings.Contains(out, "FAIL") {
		t.Errorf("compare --gate (failing) = %d; want 3:\n%s", code, out)
	}
	if code, _, _ = callCmd(compareCmd, "--gate", "rate>4995", base, slow); code != 1 {
		t.Errorf("compare regression and failed gate = %d; want 1", code)
	}

	md := filepath.Join(dir, "cmp.md")
	code, _, _ = callCmd(compareCmd, "--base", base+","+same, "--new", slow+","+slow, "--md", md)
	if code != 0 {
		t.Errorf("compare 2v2 = %d; want 0 (two runs per side cannot be significant)", code)
	}
	if data, err := os.ReadFile(md); err != nil || !strings.Contains(string(data), "p=") {
		t.Errorf("compare --md wrote %q, %v; want p-values", data, err)
	}

	code, out, errs = callCmd(compareCmd, "--md", "-", base, slow)
	if code != 1 || !strings.HasPrefix(out, "## ") || strings.Contains(out, "┌") || !strings.Contains(errs, "┌") || !strings.Contains(errs, "REGRESSION: rate (acked/s)") {
		t.Errorf("compare --md - = %d; want the markdown alone on stdout, the table on stderr\nstdout:\n%s\nstderr:\n%s", code, out, errs)
	}

	code, out, _ = callCmd(compareCmd, "--format", "benchfmt", base, slow)
	if code != 1 || !strings.Contains(out, "side: base") || !strings.Contains(out, "side: new") || !strings.Contains(out, "BenchmarkCCS/conns=8/rate=5000 1000 5000 acked/s") {
		t.Errorf("compare --format benchfmt = %d:\n%s", code, out)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{base}, "want BASE.json NEW.json"},
		{[]string{base, same, slow}, "got 3 file(s)"},
		{[]string{"--base", base}, "--base and --new go together"},
		{[]string{"--base", base, "--new", same, slow}, "not both"},
		{[]string{"--gate", "p99<5", base, same}, "needs a unit"},
		{[]string{"--max-p99-rise", "ten", base, same}, "not a non-negative percentage"},
		{[]string{"--alpha", "2", base, same}, "between 0 and 1"},
		{[]string{"--format", "csv", base, same}, `--format "csv": want table or benchfmt`},
		{[]string{"--format", "benchfmt", "--md", "-", base, same}, "both write to standard output"},
		{[]string{base, filepath.Join(dir, "nope.json")}, "no such file"},
	} {
		code, _, errs := callCmd(compareCmd, tt.args...)
		if code != 2 || !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("compare %q = %d, stderr %q; want 2 and one line containing %q", tt.args, code, errs, tt.want)
		}
	}
}

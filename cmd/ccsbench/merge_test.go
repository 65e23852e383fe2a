package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/report"
)

// TestMergeCmdSpanWarnings checks that merge warns about runs made one after
// the other and about a run given twice, and records its sources.
func TestMergeCmdSpanWarnings(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	r1 := writeTestResult(t, dir, "r1.json", 5000, 1000)
	r2 := writeTestResult(t, dir, "r2.json", 4000, 3000)
	res, err := report.ReadFile(r2)
	if err != nil {
		t.Fatal(err)
	}
	res.StartedAt = res.StartedAt.Add(time.Duration(res.DurationS * float64(time.Second))) // right after r1
	if err := res.WriteFile(r2); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "m.json")
	code, _, errs := callCmd(mergeCmd, r1, r2, "-o", out)
	if code != 0 || !strings.Contains(errs, "warning: ") || !strings.Contains(errs, "do not overlap in time") {
		t.Errorf("merge of consecutive runs = %d, stderr %q; want a warning that they do not overlap", code, errs)
	}
	m, err := report.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if from, _ := m.Config["merged_from"].([]any); len(from) != 2 || from[0] != r1 || from[1] != r2 {
		t.Errorf("merged_from = %v; want [%s %s]", m.Config["merged_from"], r1, r2)
	}

	code, _, errs = callCmd(mergeCmd, r1, r1, "-o", out)
	if code != 0 || !strings.Contains(errs, r1+" is given twice") {
		t.Errorf("merge of one file twice = %d, stderr %q; want a warning", code, errs)
	}

	code, stdout, errs := callCmd(mergeCmd, "--help")
	if code != 0 || errs != "" || !strings.Contains(stdout, "acked rate = total acked / span") {
		t.Errorf("merge --help = %d, stdout %q, stderr %q; want how the rate is computed on stdout", code, stdout, errs)
	}
}

func TestMergeCmd(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	a := writeTestResult(t, dir, "a.json", 5000, 1000)
	b := writeTestResult(t, dir, "b.json", 4000, 3000)
	out := filepath.Join(dir, "all.json")
	code, stdout, errs := callCmd(mergeCmd, a, b, "-o", out)
	if code != 0 || errs != "" || !strings.Contains(stdout, "merged 2 results") {
		t.Fatalf("merge = %d, %q, %q", code, stdout, errs)
	}
	m, err := report.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Counts.Messages != 2000 || m.Counts.Acked != 2000 {
		t.Errorf("merged counts = %+v", m.Counts)
	}
	if data, _ := os.ReadFile(out); strings.Contains(string(data), "topsecret") {
		t.Errorf("merged file contains the API key")
	}

	c := writeTestResult(t, dir, "c.json", 4000, 3000)
	cr, err := report.ReadFile(c)
	if err != nil {
		t.Fatal(err)
	}
	cr.Config["rate"] = 100
	if err := cr.WriteFile(c); err != nil {
		t.Fatal(err)
	}
	code, stdout, errs = callCmd(mergeCmd, "-o", "-", a, c)
	if code != 0 || !strings.Contains(errs, "warning: ") || !strings.Contains(errs, "rate: 5000 vs 100") {
		t.Errorf("merge differing configs = %d, stderr %q", code, errs)
	}
	// The merged results alone on stdout, the summary on stderr.
	if m, err := report.Decode(strings.NewReader(stdout)); err != nil || m.Counts.Messages != 2000 || !strings.Contains(errs, "merged 2 results into standard output") {
		t.Errorf("merge -o - wrote stdout %.200q (%v), stderr %q; want the merged results alone, the summary on stderr", stdout, err, errs)
	}

	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{a, b}, "missing -o FILE"},
		{[]string{"-o", out}, "no results files given"},
		{[]string{"-o", out, filepath.Join(dir, "nope.json")}, "no such file"},
	} {
		code, _, errs := callCmd(mergeCmd, tt.args...)
		if code != 2 || !strings.Contains(errs, tt.want) || strings.Count(errs, "\n") != 1 {
			t.Errorf("merge %q = %d, stderr %q; want 2 and one line containing %q", tt.args, code, errs, tt.want)
		}
	}
}

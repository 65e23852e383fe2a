package main

import (
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

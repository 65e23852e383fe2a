package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/fakeccs"
	"github.com/ccsbench/ccsbench/report"
	"github.com/ccsbench/ccsbench/workload"
)

func TestRunShardUsage(t *testing.T) {
	t.Parallel()
	past := time.Now().Add(-5 * time.Second).UTC().Format(time.RFC3339Nano)
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--start-at", "tomorrow"}, `--start-at "tomorrow": want an RFC 3339 time`},
		{[]string{"--start-at", "2030-01-02 03:04:05Z"}, "want an RFC 3339 time"},
		{[]string{"--start-at", past}, "in the past (at most 1s is allowed)"},
		{[]string{"--job", "j"}, "--job names the job of a sharded run: it needs --shard"},
		{[]string{"--shard", "1/2"}, "--shard without --start-at needs --job ID"},
		{[]string{"--shard", "2/2", "--job", "j"}, "index 2 is not below the shard count 2"},
		{[]string{"--shard", "1/2", "--job", "bad id!"}, `--job "bad id!": want 1 to 64 letters`},
		{[]string{"--shard", "1/3", "--job", "j", "--conns", "2"}, "2 connections cannot be split over 3 shards"},
		{[]string{"--shard", "1/2", "--job", "j", "--messages", "1"}, "1 messages leave this shard none"},
	} {
		code, _, errs := callRun(append(tc.args, "--progress=false", "--duration", "100ms")...)
		if code != 2 || !strings.Contains(errs, tc.want) {
			t.Errorf("run %v = %d, stderr %q; want 2 and %q", tc.args, code, errs, tc.want)
		}
	}
}

// TestRunShardEmbedded runs one shard in-process against the embedded
// fake: it sends its share under the totals, starts at --start-at, and
// records its shard, default job id and start skew.
func TestRunShardEmbedded(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "shard-1.json")
	at := time.Now().Add(1200 * time.Millisecond).UTC().Truncate(time.Millisecond)
	code, out, errs := callRun("--shard", "1/2", "--start-at", at.Format(time.RFC3339Nano), "--conns", "3", "--rate", "2000",
		"--duration", "500ms", "--seed", "9", "--fake-track-ids", "--json", path, "--progress=false")
	if code != 0 {
		t.Fatalf("run --shard 1/2 = %d; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	job := at.Format("20060102T150405.999999999Z") + "-2shards-seed9"
	if r.Shard == nil || *r.Shard != (report.Shard{Index: 1, Count: 2, Job: job}) {
		t.Errorf("shard = %+v; want 1/2 of job %s", r.Shard, job)
	}
	if r.Start == nil || !r.Start.At.Equal(at) || r.Start.SkewUS < 0 || !r.StartedAt.Equal(at) {
		t.Errorf("start %+v, started_at %v; want the --start-at %v as both, and a skew >= 0", r.Start, r.StartedAt, at)
	}
	if !strings.Contains(errs, "shard 1/2 of job "+job+": connecting, then sending from "+at.Format(time.RFC3339Nano)) {
		t.Errorf("stderr %q; want the wait for the start announced", errs)
	}
	if !strings.Contains(out, "1/2 of job "+job) || !strings.Contains(out, "start skew") {
		t.Errorf("summary lacks the shard or the start skew:\n%s", out)
	}
	// The shard's part of the job's schedule: every other message.
	sch := workload.NewShardSchedule(workload.ConstantPacer{Freq: 2000}, workload.Uniform, 9, workload.Shard{Index: 1, Count: 2})
	var want uint64
	for sch.Next() < 500*time.Millisecond {
		want++
	}
	var st fakeccs.Stats
	if err := json.Unmarshal(r.Fake, &st); err != nil {
		t.Fatal(err)
	}
	if r.Counts.Messages != want || r.Counts.Acked != want || st.Connections != 1 || st.UniqueIDs == nil || *st.UniqueIDs != want {
		t.Errorf("messages %d, acked %d, fake connections %d, unique ids %v; want %d, %d, 1 (of 3), %d",
			r.Counts.Messages, r.Counts.Acked, st.Connections, st.UniqueIDs, want, want, want)
	}
	for _, k := range []string{"shard", "job", "start-at"} {
		if _, ok := r.Config[k]; ok {
			t.Errorf("config holds %s; it differs between shards and is recorded apart", k)
		}
	}
	if r.Config["conns"] != float64(3) || r.Config["rate"] != float64(2000) {
		t.Errorf("config conns %v rate %v; want the job's totals 3 and 2000", r.Config["conns"], r.Config["rate"])
	}

	// --messages is the job's total: shard 1 of 2 sends 50 of 101.
	code, out, errs = callRun("--shard", "1/2", "--job", "j", "--messages", "101", "--rate", "0", "--json", path, "--progress=false")
	if code != 0 {
		t.Fatalf("run --messages 101 --shard 1/2 = %d; stdout:\n%s\nstderr:\n%s", code, out, errs)
	}
	if r, err = report.ReadFile(path); err != nil || r.Counts.Messages != 50 || r.Config["messages"] != float64(101) || r.Shard.Job != "j" || r.Start != nil {
		t.Errorf("shard 1/2 of --messages 101: %v, messages %d, config messages %v, shard %+v, start %+v; want 50 of 101 in job j, no start",
			err, r.Counts.Messages, r.Config["messages"], r.Shard, r.Start)
	}
}

// writeShard writes a results file of shard index of count of job.
func writeShard(t *testing.T, dir, name string, index, count int, job string) string {
	t.Helper()
	path := writeTestResult(t, dir, name, 1000, 500)
	r, err := report.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	r.Shard = &report.Shard{Index: index, Count: count, Job: job}
	r.Start = &report.Start{At: r.StartedAt, SkewUS: float64(100 * (index + 1))}
	if err := r.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestMergeCmdShards(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	for i := range 3 {
		writeShard(t, dir, "shard-"+string(rune('0'+i))+".json", i, 3, "nightly")
	}
	if err := os.WriteFile(filepath.Join(dir, "notes.json"), []byte(`{"x": 1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(dir, "merged.json")
	md, html := filepath.Join(dir, "merged.md"), filepath.Join(dir, "merged.html")

	// A directory: the results files in it, not the others.
	code, stdout, errs := callCmd(mergeCmd, dir, "-o", out, "--md", md, "--html", html)
	if code != 0 || !strings.Contains(errs, "leaving out "+filepath.Join(dir, "notes.json")+": not a ccsbench results file") ||
		!strings.Contains(stdout, "merged 3 of 3 shards of job nightly into "+out) || !strings.Contains(stdout, "start skew up to 300 µs") {
		t.Fatalf("merge DIR = %d, stdout %q, stderr %q", code, stdout, errs)
	}
	m, err := report.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Shards == nil || len(m.Shards.Merged) != 3 || m.Counts.Messages != 3000 || m.Start == nil || m.Start.SkewUS != 300 {
		t.Errorf("merged shards %+v, messages %d, start %+v; want 3 shards, 3000 messages, skew 300 µs", m.Shards, m.Counts.Messages, m.Start)
	}
	for _, f := range []string{md, html} {
		if b, err := os.ReadFile(f); err != nil || !strings.Contains(string(b), "3 of 3 of job nightly") {
			t.Errorf("%s: %v; want a report that names the shards", f, err)
		}
	}

	// Again: the earlier merge in the directory is left out, and so is
	// the output file when a glob matches it.
	code, _, errs = callCmd(mergeCmd, dir, "-o", filepath.Join(dir, "again.json"))
	if code != 0 || !strings.Contains(errs, "leaving out "+out+": it is a merge of other results") {
		t.Errorf("merge DIR with a merge in it = %d, stderr %q; want the merge left out", code, errs)
	}
	code, stdout, errs = callCmd(mergeCmd, filepath.Join(dir, "*.json"), "-o", filepath.Join(dir, "again.json"))
	if code != 0 || !strings.Contains(errs, "it is the output file") || !strings.Contains(stdout, "3 of 3 shards") {
		t.Errorf("merge GLOB = %d, stdout %q, stderr %q; want the 3 shards only", code, stdout, errs)
	}

	// A shard missing: refused, or merged with --allow-partial.
	glob := filepath.Join(dir, "shard-[02].json")
	code, _, errs = callCmd(mergeCmd, glob, "-o", out)
	if code != 2 || !strings.Contains(errs, `shard 1 of the 3 of job "nightly" is missing (--allow-partial merges the shards that are there)`) {
		t.Errorf("merge of shards 0 and 2 of 3 = %d, stderr %q; want 2 naming shard 1", code, errs)
	}
	code, stdout, errs = callCmd(mergeCmd, glob, "-o", out, "--allow-partial")
	if code != 0 || !strings.Contains(errs, "warning: partial merge: shard 1 of the 3") || !strings.Contains(stdout, "2 of 3 shards") {
		t.Errorf("merge --allow-partial = %d, stdout %q, stderr %q", code, stdout, errs)
	}
	if m, err := report.ReadFile(out); err != nil || m.Shards == nil || len(m.Shards.Missing) != 1 || m.Shards.Missing[0] != 1 {
		t.Errorf("partial merge: %v, shards %+v; want shard 1 listed missing", err, m.Shards)
	}

	// A shard of another job, a pattern matching nothing.
	writeShard(t, dir, "shard-9.json", 1, 3, "other")
	code, _, errs = callCmd(mergeCmd, filepath.Join(dir, "shard-*.json"), "-o", out)
	if code != 2 || !strings.Contains(errs, `job "other" of 3 shards: `+filepath.Join(dir, "shard-9.json")) {
		t.Errorf("merge of two jobs = %d, stderr %q; want 2 naming the other job's file", code, errs)
	}
	code, _, errs = callCmd(mergeCmd, filepath.Join(dir, "nothing-*.json"), "-o", out)
	if code != 2 || !strings.Contains(errs, "matches no file") {
		t.Errorf("merge of an empty glob = %d, stderr %q", code, errs)
	}
}

// TestManifestFlagsExist keeps the Kubernetes manifests in agreement with
// the command line: every flag their run and merge containers pass is a
// flag of that command.
func TestManifestFlagsExist(t *testing.T) {
	t.Parallel()
	flagRE := regexp.MustCompile(`(?m)^\s+--?([a-z][a-z0-9-]*)`)
	argRE := regexp.MustCompile(`(?m)^\s+- (--?[a-z][a-z0-9-]*)`)
	for _, tc := range []struct {
		file string
		cmd  func([]string, io.Writer, io.Writer) int
	}{{"shards.yaml", runCmd}, {"merge.yaml", mergeCmd}} {
		_, usage, _ := callCmd(tc.cmd, "-h")
		known := map[string]bool{}
		for _, m := range flagRE.FindAllStringSubmatch(usage, -1) {
			known[m[1]] = true
		}
		b, err := os.ReadFile(filepath.Join("..", "..", "deploy", "kubernetes", tc.file))
		if err != nil {
			t.Fatal(err)
		}
		args := argRE.FindAllStringSubmatch(string(b), -1)
		if len(args) < 2 {
			t.Fatalf("%s: found only %v as container flags", tc.file, args)
		}
		for _, m := range args {
			if name := strings.TrimLeft(m[1], "-"); !known[name] {
				t.Errorf("%s passes %s, which is not a flag of the command (flags: %v)", tc.file, m[1], known)
			}
		}
	}
}

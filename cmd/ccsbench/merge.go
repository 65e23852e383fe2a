package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/ccsbench/ccsbench/report"
)

const mergeUsage = `Usage: ccsbench merge INPUT... -o ALL.json [--md FILE] [--html FILE] [--allow-partial]

Merges the results of runs made at the same time from several machines:
counts summed (NACKs by code, disconnects by cause and strays by kind
too), histograms merged exactly (percentiles recomputed from the merged
histograms, never averaged), timelines aligned by wall clock on the runs'
--interval (a merged interval's p99s are the highest of the runs', its
peak of pending messages the sum of theirs: upper bounds).

An INPUT is a results file, a directory (its *.json results files) or a
glob such as 'results/shard-*.json', expanded here (quote it: a container
has no shell to expand it). Directories and globs leave out the -o file,
earlier merges and files that are not results files, and say so.

The shards of a sharded job (ccsbench run --shard I/N) must be all there,
each once, of one job id and shard count; the merge fails naming what is
missing, doubled or foreign, unless --allow-partial, which merges the
shards present and names the missing ones. Shards started with --start-at
share their start, so their timelines align exactly; the merged start
skew is the latest of theirs.

The merged run starts at the earliest start and ends at the latest end
(started_at + duration_s); the merged rates are the summed counts over that
span: acked rate = total acked / span, offered rate = total offered / span.
For simultaneous runs that is their combined rate; for runs made one after
the other it is lower than any of them, so such runs are warned about.

Warnings on standard error flag runs whose configurations, targets or
versions differ, runs whose time spans do not overlap, and the same run
given twice (the same file, or identical start, counts and histograms),
which would be counted twice. The merged file lists its sources in
config.merged_from and, for shards, in shards. FILE - writes to standard
output (one output at most), and the one-line summary of the merge then
goes to standard error.

Exit status: 0 on success (warnings included), 2 on bad usage or unreadable
or unmergeable input.

Flags:
`

// mergeCmd implements `ccsbench merge`.
func mergeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	out := fs.String("o", "", "write the merged results to `FILE` (- for standard output)")
	md := fs.String("md", "", "write a markdown report of the merged results to `FILE` (- for standard output)")
	html := fs.String("html", "", "write an HTML report of the merged results to `FILE` (- for standard output)")
	partial := fs.Bool("allow-partial", false, "merge the shards of a job that are there when some are missing (they are named in a warning and in the merged file)")
	inputs, code, ok := parseFlags(fs, args, interspersed, func(w io.Writer) { fmt.Fprint(w, mergeUsage) }, stdout, stderr)
	if !ok {
		return code
	}
	usageErr := func(err error) int { return fail(stderr, "merge", exitUsage, err) }
	if *out == "" {
		return usageErr(errors.New("missing -o FILE for the merged results"))
	}
	if len(inputs) == 0 {
		return usageErr(errors.New("no results files given (usage: ccsbench merge INPUT... -o ALL.json)"))
	}
	outs := []output{{"o", *out}, {"md", *md}, {"html", *html}}
	if err := checkOutputs(outs...); err != nil {
		return usageErr(err)
	}
	results, notes, err := mergeInputs(inputs, *out)
	if err != nil {
		return usageErr(err)
	}
	for _, n := range notes {
		notef(stderr, "merge", "%s", n)
	}
	merged, warnings, err := report.MergeWith(report.MergeOptions{AllowPartial: *partial}, results...)
	if err != nil {
		return usageErr(err)
	}
	for _, w := range warnings {
		warn(stderr, "merge", errors.New(w))
	}
	for _, o := range []struct {
		path  string
		write func(io.Writer) error
	}{
		{*out, merged.Encode},
		{*md, func(w io.Writer) error { return report.WriteMarkdown(w, merged) }},
		{*html, func(w io.Writer) error { return report.WriteHTML(w, merged) }},
	} {
		if o.path == "" {
			continue
		}
		if err := writeOutput(o.path, stdout, nil, o.write); err != nil {
			return usageErr(err)
		}
	}
	summaryOut := stdout
	if toStdout(outs) {
		summaryOut = stderr
	}
	what := fmt.Sprintf("%d results", len(results))
	if s := merged.Shards; s != nil {
		what = fmt.Sprintf("%d of %d shards of job %s", len(s.Merged), s.Count, s.Job)
	}
	into := *out
	if into == stdoutPath {
		into = "standard output"
	}
	fmt.Fprintf(summaryOut, "merged %s into %s: %d messages, %d acked, acked rate %.1f/s, service p99 %.0f µs",
		what, into, merged.Counts.Messages, merged.Counts.Acked, merged.Throughput.AckedPerS, merged.LatencyUS.Service.P99)
	if merged.Start != nil {
		fmt.Fprintf(summaryOut, ", start skew up to %.0f µs", merged.Start.SkewUS)
	}
	fmt.Fprintln(summaryOut)
	return exitOK
}

// mergeInputs reads the results named by the arguments: files (also as a
// comma-separated list), directories (their *.json files) and globs
// (expanded here). Files found through a directory or a glob are left out
// when they are the output file, an earlier merge, or not a results file;
// notes say which.
func mergeInputs(args []string, out string) ([]*report.Result, []string, error) {
	var results []*report.Result
	var notes []string
	outAbs := ""
	if out != stdoutPath {
		outAbs, _ = filepath.Abs(out)
	}
	// found reads a file met through a directory or a glob.
	found := func(path string) error {
		if abs, _ := filepath.Abs(path); abs == outAbs {
			notes = append(notes, "leaving out "+path+": it is the output file")
			return nil
		}
		r, err := report.ReadFile(path)
		switch {
		case errors.Is(err, report.ErrSchema):
			notes = append(notes, "leaving out "+path+": not a ccsbench results file")
			return nil
		case err != nil:
			return err
		case r.Shards != nil || r.Config["merged_from"] != nil:
			notes = append(notes, "leaving out "+path+": it is a merge of other results")
			return nil
		}
		results = append(results, r)
		return nil
	}
	dir := func(path string) error {
		entries, err := os.ReadDir(path)
		if err != nil {
			return err
		}
		n := 0
		for _, e := range entries { // sorted by name
			if e.Type().IsRegular() && strings.HasSuffix(e.Name(), ".json") {
				n++
				if err := found(filepath.Join(path, e.Name())); err != nil {
					return err
				}
			}
		}
		if n == 0 {
			return fmt.Errorf("directory %s holds no *.json file", path)
		}
		return nil
	}
	for _, arg := range args {
		for p := range strings.SplitSeq(arg, ",") {
			if p == "" {
				continue
			}
			fi, statErr := os.Stat(p)
			switch {
			case statErr == nil && fi.IsDir():
				if err := dir(p); err != nil {
					return nil, nil, err
				}
			case statErr != nil && strings.ContainsAny(p, "*?["):
				matches, err := filepath.Glob(p)
				if err != nil {
					return nil, nil, fmt.Errorf("pattern %q: %w", p, err)
				}
				if len(matches) == 0 {
					return nil, nil, fmt.Errorf("pattern %q matches no file", p)
				}
				slices.Sort(matches)
				for _, m := range matches {
					if err := found(m); err != nil {
						return nil, nil, err
					}
				}
			default:
				r, err := report.ReadFile(p)
				if err != nil {
					return nil, nil, err
				}
				results = append(results, r)
			}
		}
	}
	if len(results) == 0 {
		return nil, notes, errors.New("no results files left to merge")
	}
	return results, notes, nil
}

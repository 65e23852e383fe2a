package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/ccsbench/ccsbench/report"
)

func init() {
	register("merge", "exact merge of results of a distributed run", mergeCmd)
}

const mergeUsage = `Usage: ccsbench merge A.json B.json ... -o ALL.json

Merges the results of runs made at the same time from several machines:
counts summed (NACKs by code, disconnects by cause and strays by kind
too), histograms merged exactly (percentiles recomputed from the merged
histograms, never averaged), timelines aligned by wall clock on the runs'
--interval (a merged interval's p99s are the highest of the runs', its
peak of pending messages the sum of theirs: upper bounds).

The merged run starts at the earliest start and ends at the latest end
(started_at + duration_s); the merged rates are the summed counts over that
span: acked rate = total acked / span, offered rate = total offered / span.
For simultaneous runs that is their combined rate; for runs made one after
the other it is lower than any of them, so such runs are warned about.

Warnings on standard error flag runs whose configurations, targets or
versions differ, runs whose time spans do not overlap, and the same run
given twice (the same file, or identical start, counts and histograms),
which would be counted twice. The merged file lists its sources in
config.merged_from. -o - writes to standard output.

Exit status: 0 on success (warnings included), 2 on bad usage or unreadable
or unmergeable input.

Flags:
`

// mergeCmd implements `ccsbench merge`.
func mergeCmd(args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("merge", flag.ContinueOnError)
	out := fs.String("o", "", "write the merged results to `FILE` (- for stdout)")
	paths, code, ok := rptParse(fs, args, mergeUsage, stdout, stderr)
	if !ok {
		return code
	}
	if *out == "" {
		return rptFail(stderr, "merge", errors.New("missing -o FILE for the merged results"))
	}
	if len(paths) == 0 {
		return rptFail(stderr, "merge", errors.New("no results files given (usage: ccsbench merge A.json B.json ... -o ALL.json)"))
	}
	results, err := rptReadResults(paths)
	if err != nil {
		return rptFail(stderr, "merge", err)
	}
	merged, warnings, err := report.Merge(results...)
	if err != nil {
		return rptFail(stderr, "merge", err)
	}
	for _, w := range warnings {
		rptWarn(stderr, "merge", errors.New(w))
	}
	if err := rptWriteTo(*out, stdout, merged.Encode); err != nil {
		return rptFail(stderr, "merge", err)
	}
	if *out != "-" {
		fmt.Fprintf(stdout, "merged %d results into %s: %d messages, %d acked, acked rate %.1f/s, service p99 %.0f µs\n",
			len(results), *out, merged.Counts.Messages, merged.Counts.Acked, merged.Throughput.AckedPerS, merged.LatencyUS.Service.P99)
	}
	return 0
}

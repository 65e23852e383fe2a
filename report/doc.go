// Package report turns what a ccsbench run measured into everything people and
// machines read afterwards: the versioned results file (Result, schema
// "ccsbench.result/v1"), the terminal summary, the live progress line, gate
// expressions for CI (ParseGate), HdrHistogram interval logs (WriteHlog),
// markdown and self-contained HTML reports with charts, comparisons of a base
// against a new set of runs (Compare, with a Mann-Whitney U test when there
// are several runs per side) and the exact merge of distributed runs (Merge,
// MergeWith), which checks that the results of a sharded job (Shard) are
// all there, each once. It also holds the scorecard of ccsbench judge
// (Judgement, schema "ccsbench.judge/v1") and its terminal, markdown and
// HTML renderings. docs/RESULTS.md describes both files field by field.
//
// Latencies are microseconds everywhere in this package: the histograms hold
// integer microseconds and every LatencySummary field is in microseconds.
// Percentiles always come from an HDR histogram, never from averaging other
// percentiles.
//
// The package imports no other package of ccsbench: the command-line layer
// converts the driver's counters and histograms into a Result.
package report

package report

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strings"
	"time"

	hdrhistogram "github.com/HdrHistogram/hdrhistogram-go"
)

// ErrShards is wrapped by the errors of a merge whose inputs are not the
// shards of one job: some are shards and some not, shards of different
// jobs, an index given twice, or (without MergeOptions.AllowPartial)
// shards missing.
var ErrShards = errors.New("report: not the shards of one job")

// MergeOptions adjusts MergeWith.
type MergeOptions struct {
	// AllowPartial merges the shards of a job that are there when some
	// are missing, with a warning that names them, instead of failing.
	AllowPartial bool
}

// Merge is MergeWith with the default options: the shards of a job must
// all be there.
func Merge(rs ...*Result) (*Result, []string, error) {
	return MergeWith(MergeOptions{}, rs...)
}

// MergeWith combines the results of runs made at the same time from several
// machines (a distributed run) into one result:
//   - counts are summed, and so are NACKs by code, disconnects by cause
//     and strays by kind;
//   - histograms are merged exactly (decoded, HDR-merged, re-encoded) and the
//     percentiles recomputed from the merged histograms, never averaged;
//   - the start is the earliest start, the duration spans to the latest end,
//     and rates are total messages over that span;
//   - timelines are aligned by wall clock (each point goes to the interval
//     of the merged start that holds its middle; the interval is the runs'
//     "interval" configuration, or what their timelines show, the longest
//     when they differ, with a warning) and summed: sent, acked, NACKs, disconnects,
//     and pending at the end of the interval; a merged point's P99US and
//     RP99US are the highest p99 of the runs in that interval, and its
//     PendingPeak the sum of their peaks: upper bounds of the combined
//     figures (the runs' peaks need not coincide, and per-interval
//     histograms are not in results files);
//   - the connection figures, when every run has them: connections and
//     handshakes summed, handshake histograms merged exactly, and the
//     time to connect the longest of the runs';
//   - the embedded fakes' stats are summed field by field when every run has them.
//
// The merged Config is the first run's, with "merged_from" set to the
// runs' labels (file paths, or "run N"), so a merged file says what it is
// made of.
//
// When the results are shards (Result.Shard), they must be the shards of
// one job: every result a shard, one job id and shard count, each index
// once, and none missing unless opts.AllowPartial; otherwise the error
// wraps ErrShards and names what is wrong. The merged result lists them
// in Shards, and its Start holds the latest start skew. Shards of a job
// started with --start-at share their StartedAt, so their timelines
// align exactly.
//
// The warnings flag what the merge cannot reconcile: configurations,
// targets or tool versions that differ between runs, broken accounting, fake
// stats present in only some runs, runs whose time spans (StartedAt to
// StartedAt + DurationS) do not overlap (a distributed run is simultaneous;
// rates over the union of disjoint spans are lower than any run's), and the
// same run given twice (the same Label, or the same StartedAt, duration,
// counts and histograms), whose counts the merge adds twice. Gate verdicts
// are dropped: evaluate gates on the merged result. An error is returned for no results or a missing or
// undecodable histogram.
func MergeWith(opts MergeOptions, rs ...*Result) (*Result, []string, error) {
	if len(rs) == 0 {
		return nil, nil, errors.New("report: nothing to merge")
	}
	names := labels(rs)
	shards, warnings, err := checkShards(rs, names, opts.AllowPartial)
	if err != nil {
		return nil, nil, err
	}

	out := &Result{
		Schema: Schema,
		Tool:   rs[0].Tool,
		Config: cloneConfig(rs[0].Config),
		Counts: Counts{Nacks: map[string]uint64{}, Disconnects: map[string]uint64{}, StrayKinds: map[string]uint64{}, ErrorConditions: map[string]uint64{}},
		Label:  "merged",
	}

	start := rs[0].StartedAt
	end := rs[0].StartedAt.Add(secondsDuration(rs[0].DurationS))
	var offered float64
	targets := []string{}
	for i, r := range rs {
		if err := r.Check(); err != nil {
			warnings = append(warnings, fmt.Sprintf("%s: %s", names[i], strings.ReplaceAll(err.Error(), "\n", "; ")))
		}
		if r.StartedAt.Before(start) {
			start = r.StartedAt
		}
		if e := r.StartedAt.Add(secondsDuration(r.DurationS)); e.After(end) {
			end = e
		}
		if !slices.Contains(targets, r.Target) {
			targets = append(targets, r.Target)
		}
		if r.Tool != rs[0].Tool {
			warnings = append(warnings, fmt.Sprintf("%s: measured by %s, %s by %s", names[i], toolLine(r.Tool), names[0], toolLine(rs[0].Tool)))
		}
		if i > 0 {
			if diff := configDiff(rs[0].Config, r.Config); len(diff) > 0 {
				warnings = append(warnings, fmt.Sprintf("%s: configuration differs from %s: %s", names[i], names[0], strings.Join(diff, ", ")))
			}
		}
		c := r.Counts
		out.Counts.Messages += c.Messages
		out.Counts.Acked += c.Acked
		out.Counts.Nacked += c.Nacked
		out.Counts.StanzaErrors += c.StanzaErrors
		out.Counts.Lost += c.Lost
		out.Counts.Unresolved += c.Unresolved
		out.Counts.Unsent += c.Unsent
		out.Counts.Retries += c.Retries
		out.Counts.Reconnects += c.Reconnects
		out.Counts.Draining += c.Draining
		out.Counts.DrainTimeouts += c.DrainTimeouts
		out.Counts.DialFailures += c.DialFailures
		out.Counts.Upstream += c.Upstream
		out.Counts.Receipts += c.Receipts
		out.Counts.Strays += c.Strays
		for _, m := range []struct{ to, from map[string]uint64 }{
			{out.Counts.Nacks, c.Nacks}, {out.Counts.Disconnects, c.Disconnects}, {out.Counts.StrayKinds, c.StrayKinds},
			{out.Counts.ErrorConditions, c.ErrorConditions},
		} {
			for k, v := range m.from {
				m.to[k] += v
			}
		}
		offered += r.Throughput.OfferedPerS * r.DurationS
	}
	warnings = append(warnings, spanWarnings(rs, names)...)
	if len(targets) > 1 {
		warnings = append(warnings, "runs measured different targets: "+strings.Join(targets, ", "))
	}
	if out.Config == nil {
		out.Config = map[string]any{}
	}
	out.Config[mergedFromKey] = names
	out.Shards = shards
	set, warn := mergeStarts(rs, names)
	out.Start = set
	if warn != "" {
		warnings = append(warnings, warn)
	}
	out.Target = strings.Join(targets, ",")
	out.StartedAt = start
	out.DurationS = end.Sub(start).Seconds()
	if out.DurationS > 0 {
		out.Throughput.AckedPerS = float64(out.Counts.Acked) / out.DurationS
		out.Throughput.OfferedPerS = offered / out.DurationS
	}

	for _, kind := range []struct {
		name string
		get  func(*Result) string
		set  func(string, LatencySummary)
	}{
		{"service", func(r *Result) string { return r.Histograms.Service }, func(s string, l LatencySummary) {
			out.Histograms.Service, out.LatencyUS.Service = s, l
		}},
		{"response", func(r *Result) string { return r.Histograms.Response }, func(s string, l LatencySummary) {
			out.Histograms.Response, out.LatencyUS.Response = s, l
		}},
	} {
		hists := make([]*hdrhistogram.Histogram, len(rs))
		for i, r := range rs {
			h, err := DecodeHistogram(kind.get(r))
			if err != nil {
				return nil, nil, fmt.Errorf("%s: %s histogram: %w", names[i], kind.name, err)
			}
			hists[i] = h
		}
		merged, err := mergeHistograms(hists)
		if err != nil {
			return nil, nil, fmt.Errorf("report: merging %s histograms: %w", kind.name, err)
		}
		if !sameSigFigs(hists) {
			warnings = append(warnings, kind.name+" histograms have different precisions; the merge keeps the finest")
		}
		enc, err := EncodeHistogram(merged)
		if err != nil {
			return nil, nil, err
		}
		kind.set(enc, Summarize(merged))
	}

	connect, warn, err := mergeConnect(rs, names)
	if err != nil {
		return nil, nil, err
	}
	if warn != "" {
		warnings = append(warnings, warn)
	}
	if connect != nil {
		out.Connect = connect.Connect
		out.Histograms.Handshake = connect.hist
	}

	step, stepWarning := timelineStep(rs, names)
	if stepWarning != "" {
		warnings = append(warnings, stepWarning)
	}
	out.Timeline = mergeTimelines(start, step, rs)

	fake, warn, err := mergeFake(rs, names)
	if err != nil {
		return nil, nil, err
	}
	out.Fake = fake
	if warn != "" {
		warnings = append(warnings, warn)
	}
	return out, warnings, nil
}

// mergedFromKey is the Config key of a merged result that lists the labels
// of the results it was made from.
const mergedFromKey = "merged_from"

// spanWarnings flags pairs of runs that are the same run given twice, or
// whose time spans do not overlap.
func spanWarnings(rs []*Result, names []string) []string {
	var warnings []string
	span := func(r *Result) (time.Time, time.Time) {
		return r.StartedAt, r.StartedAt.Add(secondsDuration(r.DurationS))
	}
	const layout = "2006-01-02T15:04:05.000Z07:00"
	for i, a := range rs {
		for j := i + 1; j < len(rs); j++ {
			b := rs[j]
			as, ae := span(a)
			bs, be := span(b)
			switch {
			case a.Label != "" && a.Label == b.Label:
				warnings = append(warnings, fmt.Sprintf("%s is given twice: its counts and histograms are merged twice", a.Label))
			case sameRun(a, b):
				warnings = append(warnings, fmt.Sprintf("%s and %s are the same run (same start, counts and histograms): it is merged twice", names[i], names[j]))
			case !(as.Before(be) && bs.Before(ae)):
				warnings = append(warnings, fmt.Sprintf("%s (%s, %.1f s) and %s (%s, %.1f s) do not overlap in time: a distributed run is expected "+
					"to be simultaneous; the merged rates are over the span from the first start to the last end",
					names[i], as.UTC().Format(layout), a.DurationS, names[j], bs.UTC().Format(layout), b.DurationS))
			}
		}
	}
	return warnings
}

// sameRun reports whether a and b record the same run: the same start,
// duration, counts and histograms.
func sameRun(a, b *Result) bool {
	return a.StartedAt.Equal(b.StartedAt) && a.DurationS == b.DurationS && a.Histograms == b.Histograms &&
		reflect.DeepEqual(normalizeJSON(a.Counts), normalizeJSON(b.Counts))
}

// secondsDuration converts seconds to a Duration.
func secondsDuration(s float64) time.Duration {
	return time.Duration(s * float64(time.Second))
}

// sameSigFigs reports whether every histogram has the same precision.
func sameSigFigs(hs []*hdrhistogram.Histogram) bool {
	for _, h := range hs[1:] {
		if h.SignificantFigures() != hs[0].SignificantFigures() {
			return false
		}
	}
	return true
}

// mergeHistograms merges hs into a new histogram wide and precise enough for
// all of them; it fails if a value had to be dropped.
func mergeHistograms(hs []*hdrhistogram.Histogram) (*hdrhistogram.Histogram, error) {
	lo, hi, sig := hs[0].LowestTrackableValue(), hs[0].HighestTrackableValue(), hs[0].SignificantFigures()
	for _, h := range hs[1:] {
		lo = min(lo, h.LowestTrackableValue())
		hi = max(hi, h.HighestTrackableValue())
		sig = max(sig, h.SignificantFigures())
	}
	merged := hdrhistogram.New(max(lo, 1), hi, int(sig))
	for i, h := range hs {
		if dropped := merged.Merge(h); dropped != 0 {
			return nil, fmt.Errorf("histogram %d: %d values did not fit the merged range", i+1, dropped)
		}
	}
	return merged, nil
}

// intervalKey is the configuration key of the timeline's interval.
const intervalKey = "interval"

// runStep returns the length of r's timeline intervals in seconds: its
// "interval" configuration, else the gap between its first two points,
// else its first point's end, else 1.
func runStep(r *Result) float64 {
	if v, ok := r.Config[intervalKey]; ok {
		if d, err := time.ParseDuration(formatConfigValue(v)); err == nil && d > 0 {
			return d.Seconds()
		}
	}
	switch {
	case len(r.Timeline) >= 2 && r.Timeline[1].TS > r.Timeline[0].TS:
		return r.Timeline[1].TS - r.Timeline[0].TS
	case len(r.Timeline) == 1 && r.Timeline[0].TS > 0:
		return r.Timeline[0].TS
	}
	return 1
}

// timelineStep returns the interval of the merged timeline, in seconds:
// the longest of the runs', and a warning when they differ.
func timelineStep(rs []*Result, names []string) (float64, string) {
	step := 0.0
	var steps []string
	differ := false
	for i, r := range rs {
		s := runStep(r)
		differ = differ || (i > 0 && s != step)
		step = max(step, s)
		steps = append(steps, fmt.Sprintf("%s %gs", names[i], s))
	}
	if !differ {
		return step, ""
	}
	return step, fmt.Sprintf("timelines have different intervals (%s); merged in intervals of %gs", strings.Join(steps, ", "), step)
}

// mergeTimelines aligns the runs' timelines on the wall clock, in
// intervals of step seconds since start, and sums them. A point goes to
// the merged interval that holds its middle: runs that share their start
// fall exactly on the same intervals, runs started a little apart on the
// nearest, and a run's short last interval (the wait for the last
// answers) keeps its own. A merged point ends at its interval's end, or
// at the latest end of its points when that is earlier (a short last
// interval).
func mergeTimelines(start time.Time, step float64, rs []*Result) []TimelinePoint {
	byStep := map[int64]*TimelinePoint{}
	for _, r := range rs {
		offset := r.StartedAt.Sub(start).Seconds()
		prev := 0.0
		for _, pt := range r.Timeline {
			mid := offset + (prev+pt.TS)/2
			prev = pt.TS
			k := int64(math.Floor(mid / step))
			// The end, rounded to the microsecond so that 3 × 0.1 s
			// reads 0.3.
			end := math.Round(min(float64(k+1)*step, offset+pt.TS)*1e6) / 1e6
			m, ok := byStep[k]
			if !ok {
				m = &TimelinePoint{TS: end}
				byStep[k] = m
			}
			m.TS = max(m.TS, end)
			m.Sent += pt.Sent
			m.Acked += pt.Acked
			m.Nacked += pt.Nacked
			m.Disconnects += pt.Disconnects
			m.Pending += pt.Pending
			m.PendingPeak += max(pt.PendingPeak, pt.Pending)
			m.P99US = max(m.P99US, pt.P99US)
			m.RP99US = max(m.RP99US, pt.RP99US)
		}
	}
	keys := make([]int64, 0, len(byStep))
	for k := range byStep {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]TimelinePoint, 0, len(keys))
	for _, k := range keys {
		out = append(out, *byStep[k])
	}
	return out
}

// cloneConfig copies a configuration map (values are shared).
func cloneConfig(cfg map[string]any) map[string]any {
	if cfg == nil {
		return nil
	}
	out := make(map[string]any, len(cfg))
	for k, v := range cfg {
		out[k] = v
	}
	return out
}

// configDiff lists the keys whose values differ between a and b, as
// "key: A vs B", sorted. Values are compared by their JSON encoding, so 8
// and 8.0 are equal.
func configDiff(a, b map[string]any) []string {
	keys := map[string]bool{}
	for k := range a {
		keys[k] = true
	}
	for k := range b {
		keys[k] = true
	}
	var diff []string
	for k := range keys {
		if k == mergedFromKey { // the sources of merged inputs differ by nature
			continue
		}
		va, oka := a[k]
		vb, okb := b[k]
		ja, _ := json.Marshal(normalizeJSON(va))
		jb, _ := json.Marshal(normalizeJSON(vb))
		if oka == okb && string(ja) == string(jb) {
			continue
		}
		sa, sb := "(unset)", "(unset)"
		if oka {
			sa = formatConfigValue(va)
		}
		if okb {
			sb = formatConfigValue(vb)
		}
		if isSecretKey(k) {
			sa, sb = "REDACTED", "REDACTED"
		}
		diff = append(diff, k+": "+sa+" vs "+sb)
	}
	slices.Sort(diff)
	return diff
}

// normalizeJSON round-trips v through JSON so that Go and decoded values of
// the same JSON compare equal.
func normalizeJSON(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if err := json.Unmarshal(b, &out); err != nil {
		return v
	}
	return out
}

// mergedConnect is the merged connection figures and their histogram.
type mergedConnect struct {
	*Connect
	hist string
}

// mergeConnect merges the connection figures when every run has them:
// connections and handshakes are summed, the handshake histograms merged
// exactly, and the time to connect is the longest of the runs' (shards
// connect side by side; the merged run was ready when its slowest shard
// was).
func mergeConnect(rs []*Result, names []string) (*mergedConnect, string, error) {
	var have []string
	for i, r := range rs {
		if r.Connect != nil && r.Histograms.Handshake != "" {
			have = append(have, names[i])
		}
	}
	if len(have) == 0 {
		return nil, "", nil
	}
	if len(have) < len(rs) {
		return nil, "connection figures present only in " + strings.Join(have, ", ") + "; left out of the merge", nil
	}
	out := &mergedConnect{Connect: &Connect{}}
	hists := make([]*hdrhistogram.Histogram, len(rs))
	for i, r := range rs {
		h, err := DecodeHistogram(r.Histograms.Handshake)
		if err != nil {
			return nil, "", fmt.Errorf("%s: handshake histogram: %w", names[i], err)
		}
		hists[i] = h
		out.Conns += r.Connect.Conns
		out.AllConnectedS = max(out.AllConnectedS, r.Connect.AllConnectedS)
	}
	merged, err := mergeHistograms(hists)
	if err != nil {
		return nil, "", fmt.Errorf("report: merging handshake histograms: %w", err)
	}
	if out.hist, err = EncodeHistogram(merged); err != nil {
		return nil, "", err
	}
	out.Handshakes = uint64(merged.TotalCount())
	out.HandshakeUS = Summarize(merged)
	return out, "", nil
}

// mergeFake sums the fakes' stats field by field when all runs have them.
func mergeFake(rs []*Result, names []string) (json.RawMessage, string, error) {
	var have []string
	var vals []any
	for i, r := range rs {
		if len(r.Fake) == 0 || string(r.Fake) == "null" {
			continue
		}
		var v any
		if err := json.Unmarshal(r.Fake, &v); err != nil {
			return nil, "", fmt.Errorf("%s: fake stats: %w", names[i], err)
		}
		have = append(have, names[i])
		vals = append(vals, v)
	}
	if len(vals) == 0 {
		return nil, "", nil
	}
	if len(vals) < len(rs) {
		return nil, "fake stats present only in " + strings.Join(have, ", ") + "; left out of the merge", nil
	}
	sum := vals[0]
	for _, v := range vals[1:] {
		sum = sumJSON(sum, v)
	}
	b, err := json.Marshal(sum)
	if err != nil {
		return nil, "", fmt.Errorf("report: merging fake stats: %w", err)
	}
	return b, "", nil
}

// sumJSON adds numbers, recursing into objects. A null on either side gives
// null (a counter that was off in one run, such as unique_ids without
// --track-ids, has no total); other values keep a's.
func sumJSON(a, b any) any {
	switch x := a.(type) {
	case float64:
		if y, ok := b.(float64); ok {
			return x + y
		}
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok {
			return a
		}
		out := make(map[string]any, len(x))
		for k, v := range x {
			out[k] = v
		}
		for k, v := range y {
			if cur, ok := out[k]; ok {
				out[k] = sumJSON(cur, v)
			} else {
				out[k] = v // a field only some fakes report
			}
		}
		return out
	case nil:
		return nil
	}
	if b == nil {
		return nil
	}
	return a
}

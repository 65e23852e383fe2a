package report

import (
	"cmp"
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// formatUS formats a latency given in microseconds with three significant
// digits in the largest fitting unit: "812 µs", "1.23 ms", "2.5 s".
func formatUS(us float64) string {
	if math.IsNaN(us) || math.IsInf(us, 0) {
		return "-"
	}
	neg := us < 0
	v := math.Abs(us)
	unit := "µs"
	switch {
	case v >= 999.5e3:
		v /= 1e6
		unit = "s"
	case v >= 999.5:
		v /= 1e3
		unit = "ms"
	}
	s := sig3(v, unit == "µs") + " " + unit
	if neg {
		return "-" + s
	}
	return s
}

// sig3 formats v >= 0 with three significant digits; trim removes trailing
// fractional zeros (for microseconds, which are whole in histograms).
func sig3(v float64, trim bool) string {
	prec := 0
	switch {
	case v < 9.995:
		prec = 2
	case v < 99.95:
		prec = 1
	}
	s := strconv.FormatFloat(v, 'f', prec, 64)
	if trim && strings.Contains(s, ".") {
		s = strings.TrimRight(strings.TrimRight(s, "0"), ".")
	}
	return s
}

// formatShare formats a fraction as a percentage with about three
// significant digits: 0.000239 -> "0.024%", 0.5 -> "50.0%".
func formatShare(f float64) string {
	pct := f * 100
	prec := 3
	switch {
	case pct >= 10:
		prec = 1
	case pct >= 1:
		prec = 2
	}
	return strconv.FormatFloat(pct, 'f', prec, 64) + "%"
}

// formatCount formats n with thousands separators: 1234567 -> "1,234,567".
func formatCount(n uint64) string {
	return groupDigits(strconv.FormatUint(n, 10))
}

// groupDigits inserts commas into a string of decimal digits.
func groupDigits(s string) string {
	if len(s) <= 3 {
		return s
	}
	var b strings.Builder
	head := len(s) % 3
	if head > 0 {
		b.WriteString(s[:head])
	}
	for i := head; i < len(s); i += 3 {
		if b.Len() > 0 {
			b.WriteByte(',')
		}
		b.WriteString(s[i : i+3])
	}
	return b.String()
}

// formatRate formats a rate in messages per second: "4,998.7/s".
func formatRate(perS float64) string {
	return formatFloat1(perS) + "/s"
}

// formatFloat1 formats v with one decimal and thousands separators.
func formatFloat1(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return "-"
	}
	s := strconv.FormatFloat(math.Abs(v), 'f', 1, 64)
	intPart, frac, _ := strings.Cut(s, ".")
	out := groupDigits(intPart) + "." + frac
	if v < 0 && out != "0.0" {
		out = "-" + out
	}
	return out
}

// formatSeconds formats a duration in seconds: "10.0 s".
func formatSeconds(s float64) string {
	return strconv.FormatFloat(s, 'f', 1, 64) + " s"
}

// formatPct formats a fraction as a signed percentage: 0.0523 -> "+5.2%".
func formatPct(f float64) string {
	switch {
	case math.IsNaN(f):
		return "-"
	case math.IsInf(f, 1):
		return "+inf%"
	case math.IsInf(f, -1):
		return "-inf%"
	}
	return strconv.FormatFloat(f*100, 'f', 1, 64) + "%"
}

// signedPct is formatPct with an explicit plus sign for increases.
func signedPct(f float64) string {
	s := formatPct(f)
	if f > 0 && !math.IsInf(f, 1) {
		return "+" + s
	}
	return s
}

// formatConfigValue renders one configuration value compactly.
func formatConfigValue(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case string:
		return x
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case float32:
		return strconv.FormatFloat(float64(x), 'f', -1, 32)
	case bool, int, int8, int16, int32, int64, uint, uint8, uint16, uint32, uint64:
		return fmt.Sprint(x)
	case fmt.Stringer:
		return x.String()
	}
	b, err := json.Marshal(v)
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(b)
}

// configPairs returns the configuration as sorted "key=value" strings, with
// credential-like values redacted. Options set to the empty string (unset
// names, faults that are off) are left out of the line; the results file
// keeps them.
func configPairs(cfg map[string]any) []string {
	cfg = redactConfig(cfg)
	keys := make([]string, 0, len(cfg))
	for k, v := range cfg {
		if s, ok := v.(string); ok && s == "" {
			continue
		}
		keys = append(keys, k)
	}
	slices.Sort(keys)
	out := make([]string, 0, len(keys))
	for _, k := range keys {
		out = append(out, k+"="+formatConfigValue(cfg[k]))
	}
	return out
}

// labels returns a display name for each result: its Label, or "run N".
// Duplicate labels get a " (N)" suffix so columns stay distinguishable.
func labels(results []*Result) []string {
	out := make([]string, len(results))
	seen := map[string]int{}
	for i, r := range results {
		l := r.Label
		if l == "" {
			l = "run " + strconv.Itoa(i+1)
		}
		seen[l]++
		if seen[l] > 1 {
			l += " (" + strconv.Itoa(seen[l]) + ")"
		}
		out[i] = l
	}
	return out
}

// maxKeyRows is the most rows a table of counts by key (NACK codes,
// disconnect causes) shows: whatever a server sent, or a results file
// holds, the table stays readable. The keys beyond it are summed in its
// last row.
const maxKeyRows = 40

// maxKeyShown is the most characters of a key a table shows.
const maxKeyShown = 64

// keyedRow is one row of a table of counts by key: the key as shown and
// the count of each result.
type keyedRow struct {
	key    string
	counts []uint64
}

// keyedRows returns the rows of a table of counts by key across results
// (get picks the map): one row per key, the largest total first (then by
// key), at most maxKeyRows, the last one "(N more KIND)" summing the rest
// when there are more keys.
func keyedRows(results []*Result, get func(*Result) map[string]uint64, kind string) []keyedRow {
	totals := map[string]uint64{}
	for _, r := range results {
		for k, v := range get(r) {
			totals[k] += v
		}
	}
	keys := KeysByCount(totals)
	var rows []keyedRow
	for i, k := range keys {
		if i == maxKeyRows-1 && len(keys) > maxKeyRows {
			rest := keyedRow{key: "(" + strconv.Itoa(len(keys)-i) + " more " + kind + ")", counts: make([]uint64, len(results))}
			for _, k := range keys[i:] {
				for j, r := range results {
					rest.counts[j] += get(r)[k]
				}
			}
			return append(rows, rest)
		}
		row := keyedRow{key: displayKey(k), counts: make([]uint64, len(results))}
		for j, r := range results {
			row.counts[j] = get(r)[k]
		}
		rows = append(rows, row)
	}
	return rows
}

// KeysByCount returns the keys of counts, the largest count first, equal
// counts by key.
func KeysByCount(counts map[string]uint64) []string {
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b string) int {
		if counts[a] != counts[b] {
			return cmp.Compare(counts[b], counts[a])
		}
		return strings.Compare(a, b)
	})
	return keys
}

// displayKey makes a key from a results file fit a table cell: control
// characters and invalid UTF-8 as '?', at most maxKeyShown characters.
func displayKey(k string) string {
	k = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f || r == utf8.RuneError {
			return '?'
		}
		return r
	}, strings.ToValidUTF8(k, "?"))
	if utf8.RuneCountInString(k) <= maxKeyShown {
		return k
	}
	return string([]rune(k)[:maxKeyShown-1]) + "…"
}

// nackRows are the rows of the NACKs-by-code tables.
func nackRows(results []*Result) []keyedRow {
	return keyedRows(results, func(r *Result) map[string]uint64 { return r.Counts.Nacks }, "codes")
}

// disconnectRows are the rows of the disconnects-by-cause tables.
func disconnectRows(results []*Result) []keyedRow {
	return keyedRows(results, func(r *Result) map[string]uint64 { return r.Counts.Disconnects }, "causes")
}

// toolLine describes the measuring program: "ccsbench v1.0 (go1.26, native client)".
func toolLine(t Tool) string {
	v := t.Version
	if v == "" {
		v = "(unknown version)"
	}
	var extra []string
	if t.Go != "" {
		extra = append(extra, t.Go)
	}
	if t.Client != "" {
		extra = append(extra, t.Client+" client")
	}
	if len(extra) == 0 {
		return "ccsbench " + v
	}
	return "ccsbench " + v + " (" + strings.Join(extra, ", ") + ")"
}

// summaryRow is one row of the summary table: a name, a formatter, and
// for rows shown only when they have something to say, the count that
// must be non-zero in some result.
type summaryRow struct {
	name string
	f    func(r *Result) string
	when func(r *Result) uint64
}

// count makes a summary row of a count, shown always or, with
// onlyNonZero, when some result has it non-zero.
func count(name string, get func(c *Counts) uint64, onlyNonZero bool) summaryRow {
	row := summaryRow{name: name, f: func(r *Result) string { return formatCount(get(&r.Counts)) }}
	if onlyNonZero {
		row.when = func(r *Result) uint64 { return get(&r.Counts) }
	}
	return row
}

// summaryRowsFor returns the rows of the summary table of results.
func summaryRowsFor(results []*Result) []summaryRow {
	var out []summaryRow
	for _, row := range summaryRows {
		show := row.when == nil
		for _, r := range results {
			show = show || row.when(r) > 0
		}
		if show {
			out = append(out, row)
		}
	}
	return out
}

// summaryRows lists the rows of every summary table (terminal, markdown, HTML).
var summaryRows = []summaryRow{
	count("messages", func(c *Counts) uint64 { return c.Messages }, false),
	count("acked", func(c *Counts) uint64 { return c.Acked }, false),
	count("nacked", func(c *Counts) uint64 { return c.Nacked }, false),
	count("stanza errors", func(c *Counts) uint64 { return c.StanzaErrors }, false),
	count("lost", func(c *Counts) uint64 { return c.Lost }, false),
	count("unresolved", func(c *Counts) uint64 { return c.Unresolved }, false),
	// Due but never sent: the target could not keep up, or connections
	// kept failing.
	count("unsent", func(c *Counts) uint64 { return c.Unsent }, false),
	count("retries", func(c *Counts) uint64 { return c.Retries }, false),
	count("reconnects", func(c *Counts) uint64 { return c.Reconnects }, false),
	count("disconnects", (*Counts).DisconnectTotal, false),
	count("dial failures", func(c *Counts) uint64 { return c.DialFailures }, true),
	count("draining", func(c *Counts) uint64 { return c.Draining }, false),
	count("drain timeouts", func(c *Counts) uint64 { return c.DrainTimeouts }, true),
	count("upstream", func(c *Counts) uint64 { return c.Upstream }, false),
	count("receipts", func(c *Counts) uint64 { return c.Receipts }, false),
	{"strays", formatStrays, func(r *Result) uint64 { return r.Counts.Strays }},
	{name: "connected in", f: func(r *Result) string {
		if r.Connect == nil {
			return "-"
		}
		return formatUS(r.Connect.AllConnectedS*1e6) + " (" + formatCount(uint64(r.Connect.Conns)) + " conns)"
	}, when: func(r *Result) uint64 { return boolCount(r.Connect != nil) }},
	{name: "handshake p50 / p99", f: func(r *Result) string {
		if r.Connect == nil {
			return "-"
		}
		h := r.Connect.HandshakeUS
		return formatUS(h.P50) + " / " + formatUS(h.P99)
	}, when: func(r *Result) uint64 { return boolCount(r.Connect != nil) }},
	{name: "acked rate", f: func(r *Result) string { return formatRate(r.Throughput.AckedPerS) }},
	{name: "offered rate", f: func(r *Result) string { return formatRate(r.Throughput.OfferedPerS) }},
	{name: "duration", f: func(r *Result) string { return formatSeconds(r.DurationS) }},
	{"shard", formatShard, func(r *Result) uint64 { return boolCount(r.Shard != nil || r.Shards != nil) }},
	{"start skew", formatStartSkew, func(r *Result) uint64 { return boolCount(r.Start != nil) }},
	{name: "accounting", f: func(r *Result) string {
		if r.Check() != nil {
			return "BROKEN"
		}
		return "ok"
	}},
}

// boolCount is 1 for true, 0 for false: a summaryRow's when of a yes/no.
func boolCount(b bool) uint64 {
	if b {
		return 1
	}
	return 0
}

// formatShard says which shard a result is, "2/4 of job J", or which
// shards a merge holds, "4 of 4 of job J" or "3 of 4 of job J (missing 2)".
func formatShard(r *Result) string {
	switch {
	case r.Shard != nil:
		return r.Shard.String()
	case r.Shards != nil:
		s := fmt.Sprintf("%d of %d of job %s", len(r.Shards.Merged), r.Shards.Count, r.Shards.Job)
		if len(r.Shards.Missing) > 0 {
			s += " (missing " + joinInts(r.Shards.Missing) + ")"
		}
		return s
	}
	return "-"
}

// formatStartSkew formats how late sending began after --start-at; for a
// merge of shards, the latest and which shard it was.
func formatStartSkew(r *Result) string {
	if r.Start == nil {
		return "-"
	}
	s := formatUS(r.Start.SkewUS)
	if r.Shards == nil {
		return s
	}
	for _, m := range r.Shards.Merged {
		if m.SkewUS != nil && *m.SkewUS == r.Start.SkewUS {
			return s + " (latest: shard " + strconv.Itoa(m.Index) + ")"
		}
	}
	return s
}

// formatStrays formats the strays with their kinds: "12 (duplicate 12)".
func formatStrays(r *Result) string {
	s := formatCount(r.Counts.Strays)
	var kinds []string
	for _, row := range keyedRows([]*Result{r}, func(r *Result) map[string]uint64 { return r.Counts.StrayKinds }, "kinds") {
		if row.counts[0] > 0 {
			kinds = append(kinds, row.key+" "+formatCount(row.counts[0]))
		}
	}
	if len(kinds) == 0 {
		return s
	}
	return s + " (" + strings.Join(kinds, ", ") + ")"
}

// percentileRow is one row of the latency tables.
type percentileRow struct {
	name string
	f    func(s LatencySummary) float64
}

// percentileRows lists p50 p90 p99 p99.9 max mean.
var percentileRows = []percentileRow{
	{"p50", func(s LatencySummary) float64 { return s.P50 }},
	{"p90", func(s LatencySummary) float64 { return s.P90 }},
	{"p99", func(s LatencySummary) float64 { return s.P99 }},
	{"p99.9", func(s LatencySummary) float64 { return s.P999 }},
	{"max", func(s LatencySummary) float64 { return s.Max }},
	{"mean", func(s LatencySummary) float64 { return s.Mean }},
}

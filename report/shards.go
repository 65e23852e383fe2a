package report

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// checkShards checks that results which are shards are the shards of one
// job, and returns what the merge is made of. Results none of which is a
// shard give nil: an ordinary merge. The error wraps ErrShards and names
// every problem found; a missing shard is one only without allowPartial,
// else a warning.
func checkShards(rs []*Result, names []string, allowPartial bool) (*ShardSet, []string, error) {
	var plain []string
	type jobKey struct {
		id    string
		count int
	}
	jobs := map[jobKey][]string{}
	var order []jobKey
	for i, r := range rs {
		if r.Shard == nil {
			plain = append(plain, names[i])
			continue
		}
		k := jobKey{r.Shard.Job, r.Shard.Count}
		if _, ok := jobs[k]; !ok {
			order = append(order, k)
		}
		jobs[k] = append(jobs[k], names[i])
	}
	if len(order) == 0 {
		return nil, nil, nil
	}
	var problems []string
	if len(plain) > 0 {
		problems = append(problems, fmt.Sprintf("%s %s no shard of a job (no \"shard\" in the results file) but the others are",
			strings.Join(plain, ", "), plural(len(plain), "is", "are")))
	}
	if len(order) > 1 {
		var parts []string
		for _, k := range order {
			parts = append(parts, fmt.Sprintf("job %q of %d shards: %s", k.id, k.count, strings.Join(jobs[k], ", ")))
		}
		problems = append(problems, "the shards are of different jobs ("+strings.Join(parts, "; ")+")")
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%w: %s", ErrShards, strings.Join(problems, "; "))
	}

	set := &ShardSet{Job: order[0].id, Count: order[0].count}
	byIndex := map[int][]string{}
	for i, r := range rs {
		ix := r.Shard.Index
		if ix < 0 || ix >= set.Count {
			problems = append(problems, fmt.Sprintf("%s has shard index %d, outside 0..%d", names[i], ix, set.Count-1))
			continue
		}
		if len(byIndex[ix]) == 0 {
			ms := MergedShard{Index: ix, Source: names[i]}
			if r.Start != nil {
				skew := r.Start.SkewUS
				ms.SkewUS = &skew
			}
			set.Merged = append(set.Merged, ms)
		}
		byIndex[ix] = append(byIndex[ix], names[i])
	}
	for ix := range set.Count {
		switch n := len(byIndex[ix]); {
		case n == 0:
			set.Missing = append(set.Missing, ix)
		case n > 1:
			problems = append(problems, fmt.Sprintf("shard %d is given %d times (%s)", ix, n, strings.Join(byIndex[ix], ", ")))
		}
	}
	slices.SortFunc(set.Merged, func(a, b MergedShard) int { return a.Index - b.Index })
	var warnings []string
	if len(set.Missing) > 0 {
		missing := fmt.Sprintf("%s of the %d of job %q %s missing", plural(len(set.Missing), "shard", "shards")+" "+joinInts(set.Missing),
			set.Count, set.Job, plural(len(set.Missing), "is", "are"))
		if allowPartial {
			warnings = append(warnings, fmt.Sprintf("partial merge: %s; the counts, rates and histograms are those of the %d shards present",
				missing, len(set.Merged)))
		} else {
			problems = append(problems, missing+" (--allow-partial merges the shards that are there)")
		}
	}
	if len(problems) > 0 {
		return nil, nil, fmt.Errorf("%w %q: %s", ErrShards, set.Job, strings.Join(problems, "; "))
	}
	return set, warnings, nil
}

// mergeStarts returns the Start of a merge: the runs' common set start
// with the latest skew, and a warning when the runs were set to start at
// different instants or only some at a set one.
func mergeStarts(rs []*Result, names []string) (*Start, string) {
	var out *Start
	var set, unset []string
	differ := false
	for i, r := range rs {
		if r.Start == nil {
			unset = append(unset, names[i])
			continue
		}
		set = append(set, names[i]+" at "+r.Start.At.UTC().Format(time.RFC3339Nano))
		if out == nil {
			s := *r.Start
			out = &s
			continue
		}
		differ = differ || !r.Start.At.Equal(out.At)
		out.SkewUS = max(out.SkewUS, r.Start.SkewUS)
	}
	switch {
	case out == nil:
		return nil, ""
	case differ:
		return out, "the runs were set to start at different instants (" + strings.Join(set, ", ") + "): their timelines do not share a start"
	case len(unset) > 0:
		return out, "only some runs had a set start (--start-at); " + strings.Join(unset, ", ") + " started when connected"
	}
	return out, ""
}

// plural returns one when n is 1, else many.
func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// joinInts formats 1, 3 and 4 as "1, 3, 4".
func joinInts(xs []int) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = strconv.Itoa(x)
	}
	return strings.Join(s, ", ")
}

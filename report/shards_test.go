package report

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// shardResults returns results of shards of job "j" of count shards, one
// per index given, started together with skews of 100 µs times the index.
func shardResults(t *testing.T, count int, indexes ...int) []*Result {
	t.Helper()
	at := fixtureStart
	var rs []*Result
	for _, ix := range indexes {
		f := baseFixture
		f.seed = uint64(ix + 1)
		r := f.build(t)
		r.Label = fmt.Sprintf("shard-%d.json", ix)
		r.Shard = &Shard{Index: ix, Count: count, Job: "j"}
		r.Start = &Start{At: at, SkewUS: 100 * float64(ix)}
		rs = append(rs, r)
	}
	return rs
}

func TestMergeShards(t *testing.T) {
	t.Parallel()
	rs := shardResults(t, 3, 2, 0, 1)
	m, warnings, err := Merge(rs...)
	if err != nil || len(warnings) != 0 {
		t.Fatalf("Merge(3 shards of 3) = %v, warnings %q; want no error or warning", err, warnings)
	}
	want := &ShardSet{Job: "j", Count: 3}
	for _, ix := range []int{0, 1, 2} {
		skew := 100 * float64(ix)
		want.Merged = append(want.Merged, MergedShard{Index: ix, Source: fmt.Sprintf("shard-%d.json", ix), SkewUS: &skew})
	}
	if !reflect.DeepEqual(m.Shards, want) {
		t.Errorf("merged Shards = %+v; want %+v", m.Shards, want)
	}
	if m.Shard != nil || m.Start == nil || !m.Start.At.Equal(fixtureStart) || m.Start.SkewUS != 200 {
		t.Errorf("merged Shard %v, Start %+v; want no Shard and the common start with the latest skew 200 µs", m.Shard, m.Start)
	}
	// Shards that share their start share their timeline's intervals.
	if len(m.Timeline) != len(rs[0].Timeline) {
		t.Fatalf("merged timeline has %d points; want %d", len(m.Timeline), len(rs[0].Timeline))
	}
	for i, pt := range m.Timeline {
		var sent uint64
		for _, r := range rs {
			sent += r.Timeline[i].Sent
		}
		if pt.TS != rs[0].Timeline[i].TS || pt.Sent != sent {
			t.Errorf("merged timeline[%d] = %+v; want t_s %v and sent %d", i, pt, rs[0].Timeline[i].TS, sent)
		}
	}

	var buf bytes.Buffer
	if err := WriteSummary(&buf, m); err != nil {
		t.Fatal(err)
	}
	for _, line := range []string{"3 of 3 of job j", "200 µs (latest: shard 2)"} {
		if !strings.Contains(buf.String(), line) {
			t.Errorf("summary of the merge lacks %q:\n%s", line, buf.String())
		}
	}
	buf.Reset()
	if err := WriteMarkdown(&buf, rs[1]); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(buf.String(), "0/3 of job j") {
		t.Errorf("markdown of shard 0 lacks its shard:\n%s", buf.String())
	}

	for _, tc := range []struct {
		name    string
		rs      func() []*Result
		partial bool
		err     string // "" for success
		warning string
		missing []int
	}{
		{name: "missing", rs: func() []*Result { return shardResults(t, 4, 0, 2) },
			err: `"j": shards 1, 3 of the 4 of job "j" are missing (--allow-partial merges the shards that are there)`},
		{name: "missing allowed", rs: func() []*Result { return shardResults(t, 4, 0, 2) }, partial: true,
			warning: `partial merge: shards 1, 3 of the 4 of job "j" are missing; the counts, rates and histograms are those of the 2 shards present`, missing: []int{1, 3}},
		{name: "twice", rs: func() []*Result { return shardResults(t, 2, 0, 1, 1) }, partial: true,
			err: "shard 1 is given 2 times (shard-1.json, run 3)"},
		{name: "other job", rs: func() []*Result {
			rs := shardResults(t, 2, 0, 1)
			rs[1].Shard.Job = "k"
			return rs
		}, err: `the shards are of different jobs (job "j" of 2 shards: shard-0.json; job "k" of 2 shards: shard-1.json)`},
		{name: "other count", rs: func() []*Result {
			rs := shardResults(t, 2, 0, 1)
			rs[1].Shard.Count = 3
			return rs
		}, err: `job "j" of 3 shards: shard-1.json`},
		{name: "not a shard", rs: func() []*Result {
			rs := shardResults(t, 2, 0, 1)
			rs[0].Shard = nil
			return rs
		}, err: `shard-0.json is no shard of a job (no "shard" in the results file) but the others are`},
		{name: "index outside", rs: func() []*Result {
			rs := shardResults(t, 2, 0, 1)
			rs[1].Shard.Index = 5
			return rs
		}, err: "shard-1.json has shard index 5, outside 0..1"},
		{name: "different starts", rs: func() []*Result {
			rs := shardResults(t, 2, 0, 1)
			rs[1].Start.At = rs[1].Start.At.Add(time.Second)
			return rs
		}, warning: "set to start at different instants"},
		{name: "whole runs", rs: func() []*Result {
			rs := shardResults(t, 2, 0, 1)
			rs[0].Shard, rs[1].Shard, rs[0].Start, rs[1].Start = nil, nil, nil, nil
			return rs
		}},
	} {
		rs := tc.rs()
		if tc.name == "twice" {
			rs[2].Label = ""
		}
		m, warnings, err := MergeWith(MergeOptions{AllowPartial: tc.partial}, rs...)
		if tc.err != "" {
			if !errors.Is(err, ErrShards) || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("%s: MergeWith = %v; want ErrShards saying %q", tc.name, err, tc.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: MergeWith = %v", tc.name, err)
			continue
		}
		if joined := strings.Join(warnings, "\n"); tc.warning == "" && len(warnings) > 0 || !strings.Contains(joined, tc.warning) {
			t.Errorf("%s: warnings %q; want %q", tc.name, warnings, tc.warning)
		}
		if tc.missing != nil && (m.Shards == nil || !slices.Equal(m.Shards.Missing, tc.missing)) {
			t.Errorf("%s: merged Shards %+v; want missing %v", tc.name, m.Shards, tc.missing)
		}
		if tc.name == "whole runs" && (m.Shards != nil || m.Start != nil) {
			t.Errorf("merge of whole runs: Shards %+v, Start %+v; want neither", m.Shards, m.Start)
		}
	}
}

// TestMergeSumsEveryCount sets every count of every result to its own
// value: the merge must sum each one, so that a count added to Counts
// without being merged fails here.
func TestMergeSumsEveryCount(t *testing.T) {
	t.Parallel()
	rs := shardResults(t, 3, 0, 1, 2)
	want := reflect.New(reflect.TypeFor[Counts]()).Elem()
	for i, r := range rs {
		v := reflect.ValueOf(&r.Counts).Elem()
		for f := range v.NumField() {
			field, sum := v.Field(f), want.Field(f)
			switch field.Kind() {
			case reflect.Uint64:
				field.SetUint(uint64(1000*(i+1) + f))
				sum.SetUint(sum.Uint() + field.Uint())
			case reflect.Map:
				m := map[string]uint64{"k" + fmt.Sprint(i): uint64(i + 1), "common": 10}
				field.Set(reflect.ValueOf(m))
				if sum.IsNil() {
					sum.Set(reflect.ValueOf(map[string]uint64{}))
				}
				sm := sum.Interface().(map[string]uint64)
				for k, n := range m {
					sm[k] += n
				}
			default:
				t.Fatalf("Counts.%s has kind %s: teach this test (and Merge) about it", v.Type().Field(f).Name, field.Kind())
			}
		}
	}
	m, _, err := Merge(rs...)
	if err != nil {
		t.Fatal(err)
	}
	got := reflect.ValueOf(m.Counts)
	for f := range got.NumField() {
		name := got.Type().Field(f).Name
		if g, w := got.Field(f), want.Field(f); g.Kind() == reflect.Map {
			if !maps.Equal(g.Interface().(map[string]uint64), w.Interface().(map[string]uint64)) {
				t.Errorf("merged Counts.%s = %v; want %v", name, g.Interface(), w.Interface())
			}
		} else if g.Uint() != w.Uint() {
			t.Errorf("merged Counts.%s = %d; want the sum %d", name, g.Uint(), w.Uint())
		}
	}
}

// TestMergeTimelineShortLastInterval keeps a run's short last interval
// (the wait for the last answers) apart from the full one before it.
func TestMergeTimelineShortLastInterval(t *testing.T) {
	t.Parallel()
	rs := shardResults(t, 2, 0, 1)
	for _, r := range rs {
		r.Timeline = []TimelinePoint{{TS: 1, Sent: 10, Acked: 10}, {TS: 2, Sent: 10, Acked: 9}, {TS: 2.004, Acked: 1}}
	}
	rs[1].Timeline[2].TS = 2.007
	m, _, err := Merge(rs...)
	if err != nil {
		t.Fatal(err)
	}
	want := []TimelinePoint{{TS: 1, Sent: 20, Acked: 20}, {TS: 2, Sent: 20, Acked: 18}, {TS: 2.007, Acked: 2}}
	if !slices.Equal(m.Timeline, want) {
		t.Errorf("merged timeline = %+v; want %+v", m.Timeline, want)
	}
}

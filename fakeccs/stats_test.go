package fakeccs

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestStatsJSONNames(t *testing.T) {
	t.Parallel()
	b, err := json.Marshal(Stats{Nacks: map[string]uint64{}})
	if err != nil {
		t.Fatal(err)
	}
	keys := jsonKeys(t, b)
	for _, k := range []string{"connections", "auth_failures", "received", "unique_ids", "duplicates", "acks",
		"nacks", "stanza_errors", "window_violations", "upstream_sent", "upstream_acked", "upstream_resent",
		"bad_acks", "receipts_sent", "drains", "drops", "unknown_acks", "keepalives", "pings", "active_connections"} {
		if !contains(keys, k) {
			t.Errorf("Stats JSON lacks %q (has %v)", k, keys)
		}
	}
	if !strings.Contains(string(b), `"unique_ids":null`) {
		t.Errorf("unique_ids not null when untracked: %s", b)
	}
}

// TestCounters checks the table of counters against Stats: every field
// once, in order, with its JSON key, and values read as the fields hold
// them.
func TestCounters(t *testing.T) {
	t.Parallel()
	u, d := uint64(7), uint64(2)
	st := Stats{Connections: 3, ActiveConnections: 1, Received: 9, Acks: 5, Nacks: map[string]uint64{"A": 1, "B": 2},
		Abandoned: 1, UniqueIDs: &u, Duplicates: &d, Ignored: 4}
	b, err := json.Marshal(st)
	if err != nil {
		t.Fatal(err)
	}
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		t.Fatal(err)
	}
	cs := Counters()
	if len(cs) != len(fields) {
		t.Errorf("Counters() has %d rows; Stats has %d JSON keys", len(cs), len(fields))
	}
	for i, c := range cs {
		if c.Name != reflect.TypeFor[Stats]().Field(i).Name || c.Help == "" || fields[c.Key] == nil {
			t.Errorf("Counters()[%d] = %+v; want field %d of Stats, its JSON key and help", i, c, i)
		}
		n, ok := c.Value(&st)
		var want uint64
		wantOK := true
		switch c.Name {
		case "Nacks":
			want = 3
			if !c.ByCode || c.Codes(&st)["B"] != 2 {
				t.Errorf("Nacks: ByCode %v, Codes %v; want true and B 2", c.ByCode, c.Codes(&st))
			}
		case "UniqueIDs":
			want = 7
		case "Duplicates":
			want = 2
		default:
			if c.ByCode || c.Codes(&st) != nil {
				t.Errorf("%s: ByCode %v, Codes %v; want false and nil", c.Name, c.ByCode, c.Codes(&st))
			}
			json.Unmarshal(fields[c.Key], &want)
		}
		if n != want || ok != wantOK {
			t.Errorf("%s.Value = %d, %v; want %d, %v", c.Name, n, ok, want, wantOK)
		}
		if (c.Kind == CounterGauge) != (c.Name == "ActiveConnections") {
			t.Errorf("%s has kind %v", c.Name, c.Kind)
		}
	}
	if _, ok := cs[5].Value(&Stats{}); ok || cs[5].Name != "UniqueIDs" {
		t.Errorf("%s.Value of untracked stats is there; want ok false", cs[5].Name)
	}
	cs[0].Name = "changed"
	if Counters()[0].Name != "Connections" {
		t.Error("Counters returns the table itself, not a copy")
	}
}

func TestCheckIdentity(t *testing.T) {
	t.Parallel()
	st := Stats{Received: 10, Acks: 4, Nacks: map[string]uint64{"A": 1, "B": 2}, StanzaErrors: 1, Abandoned: 1, Discarded: 1}
	if err := st.CheckIdentity(); err != nil {
		t.Errorf("CheckIdentity() of %+v = %v; want nil", st, err)
	}
	st.Received = 11
	err := st.CheckIdentity()
	const want = "fakeccs: accounting identity broken: received 11 != acks 4 + nacks 3 + stanza_errors 1 + abandoned 1 + discarded 1"
	if !errors.Is(err, ErrIdentity) || err.Error() != want {
		t.Errorf("CheckIdentity() = %v; want %q", err, want)
	}
}

// TestResultsFilesDecode checks the JSON keys of Stats, a contract,
// against the fake's stats in the results files committed under results/
// (runs, and every scenario of a judgement): each decodes into Stats
// without an unknown key, and its accounting identity holds.
func TestResultsFilesDecode(t *testing.T) {
	t.Parallel()
	files, err := filepath.Glob("../results/*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no results files: %v", err)
	}
	seen := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var doc struct {
			Fake      json.RawMessage
			Scenarios []struct{ Fake json.RawMessage }
		}
		if err := json.Unmarshal(b, &doc); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		fakes := []json.RawMessage{doc.Fake}
		for _, sc := range doc.Scenarios {
			fakes = append(fakes, sc.Fake)
		}
		for i, raw := range fakes {
			if len(raw) == 0 {
				continue
			}
			seen++
			dec := json.NewDecoder(bytes.NewReader(raw))
			dec.DisallowUnknownFields()
			var st Stats
			if err := dec.Decode(&st); err != nil {
				t.Errorf("%s, stats %d: %v", f, i, err)
				continue
			}
			if err := st.CheckIdentity(); err != nil {
				t.Errorf("%s, stats %d: %v", f, i, err)
			}
		}
	}
	if seen == 0 {
		t.Error("no fake stats in the results files")
	}
}

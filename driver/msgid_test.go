package driver

import "testing"

func TestIDRoundTrip(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		prefix string
		seq    uint64
		idx    uint32
	}{
		{"", 1, 0}, {"ab12cd-", 1, 0}, {"x", 0xffffffffffffffff, 0xffffffff}, {"run_7-", 12345, 678},
	} {
		id := appendID(nil, tc.prefix, tc.seq, tc.idx)
		seq, idx, ok := parseID(tc.prefix, id)
		if !ok || seq != tc.seq || idx != tc.idx {
			t.Errorf("parseID(%q, %q) = %d, %d, %v; want %d, %d, true", tc.prefix, id, seq, idx, ok, tc.seq, tc.idx)
		}
	}
	for _, bad := range []string{"", "p-", "p-1", "p-.1", "p-1.", "p-1.g", "p-G.1", "q-1.1", "p-1.2.3", "p-11111111111111111.1", "p-1.111111111"} {
		if seq, idx, ok := parseID("p-", []byte(bad)); ok {
			t.Errorf("parseID(%q, %q) = %d, %d, true; want false", "p-", bad, seq, idx)
		}
	}
}

func TestFindID(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ payload, want string }{
		{`{"to":"x","message_iX":"ab-1f.3","data":{}}`, "ab-1f.3"},
		{`not json ab-2.0 trailing`, "ab-2.0"},
		{`ab-zz ab-3.4`, "ab-3.4"},
		{`nothing here`, ""},
	} {
		if got := findID("ab-", []byte(tc.payload)); string(got) != tc.want {
			t.Errorf("findID(%q) = %q; want %q", tc.payload, got, tc.want)
		}
	}
}

func FuzzParseID(f *testing.F) {
	f.Add("ab-", "ab-1f.3")
	f.Add("", "0.0")
	f.Add("x", "x.")
	f.Fuzz(func(t *testing.T, prefix, id string) {
		seq, idx, ok := parseID(prefix, []byte(id))
		if !ok {
			return
		}
		if len(prefix) > 16 {
			return
		}
		// Parsing what appendID wrote gives the same numbers back.
		b := appendID(nil, prefix, seq, idx)
		if len(b) > maxIDLen {
			t.Fatalf("appendID wrote %d bytes; maxIDLen is %d", len(b), maxIDLen)
		}
		s2, i2, ok2 := parseID(prefix, b)
		if !ok2 || s2 != seq || i2 != idx {
			t.Fatalf("round trip of %q: %d,%d,%v; want %d,%d", b, s2, i2, ok2, seq, idx)
		}
		if got := findID(prefix, []byte(id)); prefix != "" && got == nil {
			t.Fatalf("findID(%q, %q) = nil for a valid id", prefix, id)
		}
	})
}

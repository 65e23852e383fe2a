package ccs

import (
	"bytes"
	"encoding/xml"
	"io"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"
)

// xmlAcceptsName reports whether encoding/xml accepts name as an element
// name.
func xmlAcceptsName(name string) bool {
	_, err := xml.NewDecoder(strings.NewReader("<" + name + "/>")).RawToken()
	return err == nil
}

// fifthNameStart and fifthNameChar are productions [4] NameStartChar and
// [4a] NameChar of XML 1.0 Fifth Edition, which the framer does not use
// (see xmlchar.go); the tests compare the two definitions.
func fifthNameStart(r rune) bool {
	return r == ':' || 'A' <= r && r <= 'Z' || r == '_' || 'a' <= r && r <= 'z' ||
		0xC0 <= r && r <= 0xD6 || 0xD8 <= r && r <= 0xF6 || 0xF8 <= r && r <= 0x2FF ||
		0x370 <= r && r <= 0x37D || 0x37F <= r && r <= 0x1FFF || 0x200C <= r && r <= 0x200D ||
		0x2070 <= r && r <= 0x218F || 0x2C00 <= r && r <= 0x2FEF || 0x3001 <= r && r <= 0xD7FF ||
		0xF900 <= r && r <= 0xFDCF || 0xFDF0 <= r && r <= 0xFFFD || 0x10000 <= r && r <= 0xEFFFF
}

func fifthNameChar(r rune) bool {
	return fifthNameStart(r) || r == '-' || r == '.' || '0' <= r && r <= '9' || r == 0xB7 ||
		0x300 <= r && r <= 0x36F || 0x203F <= r && r <= 0x2040
}

func TestNameRuneEdges(t *testing.T) {
	t.Parallel()
	// Edges of the Appendix B classes, and characters where the Fourth
	// Edition classes (the framer's and encoding/xml's) and the Fifth
	// Edition's disagree.
	for _, tt := range []struct {
		r             rune
		start, char   bool // framer and encoding/xml
		start5, char5 bool // XML 1.0 Fifth Edition
	}{
		{0x00BF, false, false, false, false},  // ¿ just below [85] BaseChar's Latin-1 range
		{0x00C0, true, true, true, true},      // À first of [#x00C0-#x00D6]
		{0x00D7, false, false, false, false},  // × between two BaseChar ranges (and [4])
		{0x00B7, false, true, false, true},    // · [89] Extender; [4a] NameChar
		{0x0131, true, true, true, true},      // ı last of [#x0100-#x0131]
		{0x0132, false, false, true, true},    // Ĳ a ligature: out of BaseChar, in [4]
		{0x01C4, false, false, true, true},    // Ǆ compatibility decomposition: out of BaseChar
		{0x02A8, true, true, true, true},      // ʨ last of [#x0250-#x02A8]
		{0x02BB, true, true, true, true},      // ʻ first of [#x02BB-#x02C1]
		{0x02D0, false, true, true, true},     // ː [89] Extender; a NameStartChar in [4]
		{0x0300, false, true, false, true},    // combining grave: [87] CombiningChar; [4a] only
		{0x0345, false, true, false, true},    // last of [#x0300-#x0345]
		{0x0346, false, false, false, true},   // combining mark after Unicode 2.0: [4a] only
		{0x0387, false, true, true, true},     // · Greek ano teleia: [89] Extender
		{0x0660, false, true, true, true},     // Arabic-Indic zero: [88] Digit
		{0x0E2F, false, false, true, true},    // Thai paiyannoi: a gap in BaseChar
		{0x2070, false, false, true, true},    // superscript zero: [4] only
		{0x20DC, false, true, true, true},     // last of [#x20D0-#x20DC]: CombiningChar
		{0x20DD, false, false, true, true},    // enclosing circle: no longer a CombiningChar
		{0x20E1, false, true, true, true},     // combining left right arrow above: CombiningChar
		{0x203F, false, false, false, true},   // ‿ undertie: [4a] only
		{0x3005, false, true, true, true},     // 々 [89] Extender
		{0x3007, true, true, true, true},      // 〇 [86] Ideographic
		{0x3021, true, true, true, true},      // first of [#x3021-#x3029]: Ideographic
		{0x3400, false, false, true, true},    // CJK extension A: after Unicode 2.0
		{0x4E00, true, true, true, true},      // 一 first of [#x4E00-#x9FA5]
		{0x9FA5, true, true, true, true},      // last of [#x4E00-#x9FA5]
		{0x9FA6, false, false, true, true},    // first ideograph after Unicode 2.0
		{0xAC00, true, true, true, true},      // 가 first Hangul syllable
		{0xD7A3, true, true, true, true},      // last Hangul syllable
		{0xD7A4, false, false, true, true},    // after the syllables, in [#x3001-#xD7FF]
		{0xF900, false, false, true, true},    // CJK compatibility ideograph: [4] only
		{0xFFFD, false, false, true, true},    // replacement character: [4] only
		{0x10000, false, false, true, true},   // 𐀀 beyond the BMP: [4] only
		{0xEFFFF, false, false, true, true},   // last of [#x10000-#xEFFFF]
		{0xF0000, false, false, false, false}, // private use plane 15
	} {
		if got := nameRune(tt.r, true); got != tt.start {
			t.Errorf("nameRune(%U, true) = %v; want %v", tt.r, got, tt.start)
		}
		if got := nameRune(tt.r, false); got != tt.char {
			t.Errorf("nameRune(%U, false) = %v; want %v", tt.r, got, tt.char)
		}
		if got := xmlAcceptsName(string(tt.r)); got != tt.start {
			t.Errorf("encoding/xml name %q (%U): accepted %v; want %v", string(tt.r), tt.r, got, tt.start)
		}
		if got := xmlAcceptsName("a" + string(tt.r)); got != tt.char {
			t.Errorf("encoding/xml name %q (a, %U): accepted %v; want %v", "a"+string(tt.r), tt.r, got, tt.char)
		}
		if got := fifthNameStart(tt.r); got != tt.start5 {
			t.Errorf("fifthNameStart(%U) = %v; want %v", tt.r, got, tt.start5)
		}
		if got := fifthNameChar(tt.r); got != tt.char5 {
			t.Errorf("fifthNameChar(%U) = %v; want %v", tt.r, got, tt.char5)
		}
	}
}

func TestNameRuneAgreesWithEncodingXML(t *testing.T) {
	t.Parallel()
	// Every non-ASCII code point of the BMP, and every 97th beyond it:
	// the framer's classes are encoding/xml's.
	for r := rune(utf8.RuneSelf); r <= utf8.MaxRune; r++ {
		if r > 0xFFFF && r%97 != 0 || 0xD800 <= r && r <= 0xDFFF {
			continue
		}
		s := string(r)
		if got, want := nameRune(r, true), xmlAcceptsName(s); got != want {
			t.Fatalf("nameRune(%U, true) = %v; encoding/xml accepts %q: %v", r, got, s, want)
		}
		if got, want := nameRune(r, false), xmlAcceptsName("a"+s); got != want {
			t.Fatalf("nameRune(%U, false) = %v; encoding/xml accepts %q: %v", r, got, "a"+s, want)
		}
		// Every Fourth Edition name is a Fifth Edition name.
		if nameRune(r, true) && !fifthNameStart(r) || nameRune(r, false) && !fifthNameChar(r) {
			t.Fatalf("%U is a Fourth Edition name character but not a Fifth Edition one", r)
		}
	}
}

func TestAddProduction(t *testing.T) {
	t.Parallel()
	var s bmpSet
	if err := addProduction(&s, " #x00E9 |\n\t[#x4E00-#x4E02]|#xFFFF "); err != nil {
		t.Fatalf("addProduction: %v", err)
	}
	for r := rune(0); r <= 0xFFFF; r++ {
		want := r == 0xE9 || r == 0xFFFF || 0x4E00 <= r && r <= 0x4E02
		if got := s[r>>6]>>(r&63)&1 != 0; got != want {
			t.Fatalf("after addProduction, %U in the set: %v; want %v", r, got, want)
		}
	}
	for _, p := range []string{
		"", "#x", "x41", "#x10000", "[#x42-#x41]", "[#x41-#x42", "#x41-#x42]", "[#x41]",
		"[#x41-#x42-#x43]", "#x41 #x42", "#x41 |", "#xG1", "[#x41 - #x42]", "#x-1",
	} {
		var s bmpSet
		if err := addProduction(&s, p); err == nil {
			t.Errorf("addProduction(%q) = nil; want an error", p)
		}
	}
}

func TestIsXMLCharEdges(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		r    rune
		want bool
	}{
		{0x00, false}, {0x08, false}, {0x09, true}, {0x0A, true}, {0x0B, false}, {0x0C, false},
		{0x0D, true}, {0x1F, false}, {0x20, true}, {0x7F, true}, {0xD7FF, true}, {0xD800, false},
		{0xDFFF, false}, {0xE000, true}, {0xFFFD, true}, {0xFFFE, false}, {0xFFFF, false},
		{0x10000, true}, {0x10FFFF, true}, {0x110000, false}, {-1, false},
	} {
		if got := isXMLChar(tt.r); got != tt.want {
			t.Errorf("isXMLChar(%U) = %v; want %v", tt.r, got, tt.want)
		}
	}
	// Character references check Char too: the framer refuses the same
	// references as encoding/xml, except surrogates (see FuzzFramer).
	for _, r := range []rune{0x01, 0x0B, 0xFFFE, 0xFFFF, 0x110000} {
		body := "<message>&#x" + strconv.FormatInt(int64(r), 16) + ";</message>"
		_, err := frameAll(strings.NewReader(testHeader+body+testEnd), FramerConfig{})
		if err == io.EOF {
			t.Errorf("framing %q: accepted; want a syntax error", body)
		}
	}
}

func TestFramerNonASCIINames(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		body string
		ok   bool
	}{
		{`<message><données xmlns="urn:x" clé="1">été</données></message>`, true},
		{`<message><x·y xmlns="urn:x"/></message>`, true},
		{`<message><x xmlns="urn:x" 一二="3"/></message>`, true},
		{`<message><·x xmlns="urn:x"/></message>`, false},      // Extender cannot start a name
		{`<message><x xmlns="urn:x" ĳ="1"/></message>`, false}, // not a Fourth Edition letter
		{`<message><x𐀀 xmlns="urn:x"/></message>`, false},      // beyond the BMP
		{`<message><x` + "\u0300" + ` xmlns="urn:x"/></message>`, true},
	} {
		in := testHeader + tt.body + testEnd
		_, err := frameAll(strings.NewReader(in), FramerConfig{})
		if got := err == io.EOF; got != tt.ok {
			t.Errorf("framing %s: error %v; want accepted %v", tt.body, err, tt.ok)
		}
		d := xml.NewDecoder(bytes.NewReader([]byte(tt.body)))
		var xerr error
		for xerr == nil {
			_, xerr = d.RawToken()
		}
		if (xerr == io.EOF) != tt.ok {
			t.Errorf("encoding/xml on %s: error %v; want accepted %v", tt.body, xerr, tt.ok)
		}
	}
}

func TestNameRuneAllocs(t *testing.T) {
	rs := []rune{'é', 0x4E00, 0x0300, 0x10000, 0x2070}
	if n := testing.AllocsPerRun(100, func() {
		for _, r := range rs {
			nameRune(r, true)
			nameRune(r, false)
		}
	}); n != 0 {
		t.Errorf("nameRune allocates %v times; want 0", n)
	}
}

// BenchmarkNameRune classifies a mix of non-ASCII name characters (Latin,
// Greek, Cyrillic, CJK, combining marks, and characters that are not name
// characters), as the framer does for every non-ASCII rune of a name.
func BenchmarkNameRune(b *testing.B) {
	rs := []rune("éàüßøΩλжщ一中文字가한ー々\u0300\u0345·◊€😀\u2070ĳ")
	b.ReportAllocs()
	n := 0
	for b.Loop() {
		for i, r := range rs {
			if nameRune(r, i&1 == 0) {
				n++
			}
		}
	}
	_ = n
}

// BenchmarkFrameNonASCIINames frames stanzas whose element and attribute
// names are non-ASCII.
func BenchmarkFrameNonASCIINames(b *testing.B) {
	stanza := func(i int) []byte {
		return []byte(`<message id="` + itoa(i) + `"><données xmlns="urn:x" clé="1" 名前="値"><élément/><ελληνικά/></données></message>`)
	}
	body := repeatStanzas(100, stanza)
	f := newLoopFramer(b, body)
	b.ReportAllocs()
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		for range 100 {
			if _, err := f.Next(); err != nil {
				b.Fatal(err)
			}
		}
	}
}

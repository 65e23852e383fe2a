package ccs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// The framer's lexical layer: functions that check, scan and decode one
// token of XML (a name, a tag's end, character data, an attribute value,
// a CDATA section, a reference, the XML declaration) in a byte slice.
// They never touch a Framer and never read outside the slice they are
// given; like the scanner, they return errNeedMore when the slice ends
// inside the token and a *SyntaxError, with an offset relative to the
// slice, for bad input.

// synErr returns a *SyntaxError wrapping sentinel at offset off.
func synErr(sentinel error, off int, detail string) *SyntaxError {
	return &SyntaxError{Err: sentinel, Offset: int64(off), Detail: detail}
}

// bang classifies the "<!" markup at b[p]: nil for the start of a CDATA
// section, otherwise an error (a comment or markup declaration is
// restricted).
func bang(b []byte, p int) error {
	r := b[p:]
	if len(r) < 3 {
		return errNeedMore
	}
	switch r[2] {
	case '-':
		if len(r) < 4 {
			return errNeedMore
		}
		if r[3] == '-' {
			return synErr(ErrRestricted, p, "comment")
		}
		return synErr(ErrMalformed, p, "invalid sequence <!-")
	case '[':
		const cd = "<![CDATA["
		n := min(len(r), len(cd))
		if string(r[:n]) != cd[:n] {
			return synErr(ErrMalformed, p, "invalid <![ sequence")
		}
		if n < len(cd) {
			return errNeedMore
		}
		return nil
	}
	return synErr(ErrRestricted, p, "DOCTYPE or markup declaration")
}

// xmlDecl checks the XML declaration at b[p] ("<?xml" and white space seen)
// and returns the position after it.
func xmlDecl(b []byte, p int) (int, error) {
	end := bytes.Index(b[p:], []byte("?>"))
	if end < 0 {
		return 0, errNeedMore
	}
	d := b[p+5 : p+end]
	bad := func(why string) (int, error) {
		return 0, synErr(ErrMalformed, p, "XML declaration: "+why)
	}
	names := [...]string{"version", "encoding", "standalone"}
	next := 0
	for i := 0; ; {
		j := skipSpace(d, i)
		if j == len(d) {
			break
		}
		if j == i {
			return bad("missing white space")
		}
		k := j
		for k < len(d) && 'a' <= d[k] && d[k] <= 'z' {
			k++
		}
		name := string(d[j:k])
		for next < len(names) && names[next] != name {
			next++
		}
		if next == len(names) || next > 0 && i == 0 {
			return bad("unexpected " + name)
		}
		k = skipSpace(d, k)
		if k == len(d) || d[k] != '=' {
			return bad("missing =")
		}
		k = skipSpace(d, k+1)
		if k == len(d) || d[k] != '"' && d[k] != '\'' {
			return bad("unquoted value")
		}
		v := bytes.IndexByte(d[k+1:], d[k])
		if v < 0 {
			return bad("unterminated value")
		}
		val := string(d[k+1 : k+1+v])
		switch name {
		case "version":
			if len(val) < 3 || val[:2] != "1." || !isDigits(val[2:]) {
				return bad("unsupported version " + val)
			}
		case "encoding":
			if !equalFold(val, "utf-8") {
				return bad("unsupported encoding " + val)
			}
		case "standalone":
			if val != "yes" && val != "no" {
				return bad("bad standalone value")
			}
		}
		next++
		i = k + 2 + v
	}
	if next == 0 {
		return bad("missing version")
	}
	return p + end + 2, nil
}

// isDigits reports whether s is one or more ASCII digits.
func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// equalFold reports whether s equals lower, which is in lower case, in
// ASCII letter case only.
func equalFold(s, lower string) bool {
	if len(s) != len(lower) {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != lower[i] {
			return false
		}
	}
	return true
}

// skipSpace returns the position of the first byte at or after p that is
// not XML white space.
func skipSpace(b []byte, p int) int {
	for p < len(b) && xmlClass[b[p]]&cSpace != 0 {
		p++
	}
	return p
}

// scanName scans the name at b[p] and returns its end and the offset of
// its colon in it (-1 if none). A qualified name has at most one colon,
// neither first nor last.
func scanName(b []byte, p int) (q, colon int, err error) {
	q, colon = p, -1
	if p < len(b) && xmlClass[b[p]]&cNameStart == 0 && b[p] < utf8.RuneSelf {
		return 0, 0, synErr(ErrMalformed, p, "expected a name")
	}
	for {
		for q < len(b) && xmlClass[b[q]]&cNameNC != 0 {
			q++
		}
		if q >= len(b) {
			return 0, 0, errNeedMore
		}
		c := b[q]
		if c == ':' {
			if colon >= 0 {
				return 0, 0, synErr(ErrBadNamespace, p, "name with more than one colon")
			}
			colon = q - p
			q++
			continue
		}
		if c < utf8.RuneSelf {
			break
		}
		if !utf8.FullRune(b[q:]) {
			return 0, 0, errNeedMore
		}
		r, n := utf8.DecodeRune(b[q:])
		if r == utf8.RuneError && n == 1 || !nameRune(r, q == p) {
			return 0, 0, synErr(ErrMalformed, q, "invalid character in name")
		}
		q += n
	}
	if colon == 0 || colon == q-p-1 {
		return 0, 0, synErr(ErrBadNamespace, p, "invalid qualified name "+string(b[p:q]))
	}
	return q, colon, nil
}

// endTag scans the end tag at b[p] ("</" seen) and returns its name and
// the position after it.
func endTag(b []byte, p int) ([]byte, int, error) {
	q, _, err := scanName(b, p+2)
	if err != nil {
		return nil, 0, err
	}
	name := b[p+2 : q]
	q = skipSpace(b, q)
	if q >= len(b) {
		return nil, 0, errNeedMore
	}
	if b[q] != '>' {
		return nil, 0, synErr(ErrMalformed, q, "expected > to end </"+string(name))
	}
	return name, q + 1, nil
}

// scanText validates the character data at b[p:] up to the next '<',
// returns that '<”s position and whether the data needs decoding
// (references or CR). It returns errNeedMore when there is no '<'.
func scanText(b []byte, p int) (q int, dec bool, err error) {
	i := p
	for {
		for i+8 <= len(b) {
			w := b[i : i+8 : i+8]
			if (xmlClass[w[0]]|xmlClass[w[1]]|xmlClass[w[2]]|xmlClass[w[3]]|
				xmlClass[w[4]]|xmlClass[w[5]]|xmlClass[w[6]]|xmlClass[w[7]])&cText != 0 {
				break
			}
			i += 8
		}
		for i < len(b) && xmlClass[b[i]]&cText == 0 {
			i++
		}
		if i >= len(b) {
			return 0, false, errNeedMore
		}
		switch c := b[i]; {
		case c == '<':
			return i, dec, nil
		case c == '&':
			n, err := scanRef(b, i)
			if err != nil {
				return 0, false, err
			}
			dec = true
			i += n
		case c == ']':
			switch {
			case i+1 < len(b) && b[i+1] != ']':
			case i+2 >= len(b):
				return 0, false, errNeedMore
			case b[i+2] == '>':
				return 0, false, synErr(ErrMalformed, i, "]]> in character data")
			}
			i++
		case c == '\r':
			dec = true
			i++
		case c < 0x20:
			return 0, false, synErr(ErrMalformed, i, fmt.Sprintf("illegal character %#x", c))
		default:
			n, err := nonASCIIChar(b, i)
			if err != nil {
				return 0, false, err
			}
			i += n
		}
	}
}

// scanRef validates the entity or character reference at b[i] (an '&')
// for the text and attribute scanners, and returns its length; errNeedMore
// when the buffered bytes end inside what may still become one.
func scanRef(b []byte, i int) (int, error) {
	_, n := xmlRef(b[i:])
	if n == 0 {
		if refPrefix(b[i:]) {
			return 0, errNeedMore
		}
		return 0, synErr(ErrMalformed, i, "invalid entity or character reference")
	}
	return n, nil
}

// refPrefix reports whether b, which starts with '&' and holds no
// complete reference, may be the start of one cut by the end of the
// buffered bytes.
func refPrefix(b []byte) bool {
	i := 1
	if i < len(b) && b[i] == '#' {
		i++
		hex := i < len(b) && b[i] == 'x'
		if hex {
			i++
		}
		for i < len(b) && ('0' <= b[i] && b[i] <= '9' || hex && ('a' <= b[i] && b[i] <= 'f' || 'A' <= b[i] && b[i] <= 'F')) {
			i++
		}
		return i == len(b)
	}
	for i < len(b) && (b[i] >= utf8.RuneSelf || xmlClass[b[i]]&cName != 0) {
		i++
	}
	return i == len(b)
}

// scanAttrValue validates the attribute value at b[p:] quoted with
// quote, and returns the position of the closing quote and whether the
// value needs decoding (references or white space to normalise).
func scanAttrValue(b []byte, p int, quote byte) (q int, dec bool, err error) {
	i := p
	for {
		for i+8 <= len(b) {
			m := swarAttr(binary.LittleEndian.Uint64(b[i:]), quote)
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i >= len(b) {
			return 0, false, errNeedMore
		}
		c := b[i]
		if c == quote {
			return i, dec, nil
		}
		if xmlClass[c]&cAttr == 0 {
			i++
			continue
		}
		switch {
		case c == '&':
			n, err := scanRef(b, i)
			if err != nil {
				return 0, false, err
			}
			dec = true
			i += n
		case c == '<':
			return 0, false, synErr(ErrMalformed, i, "< in attribute value")
		case c == '\t' || c == '\n' || c == '\r':
			dec = true
			i++
		case c < 0x20:
			return 0, false, synErr(ErrMalformed, i, fmt.Sprintf("illegal character %#x", c))
		default:
			n, err := nonASCIIChar(b, i)
			if err != nil {
				return 0, false, err
			}
			i += n
		}
	}
}

// checkCDATA validates the content of a CDATA section and reports whether
// it needs decoding (CR), or the offset of an illegal character.
func checkCDATA(b []byte) (dec bool, bad int) {
	for i := 0; i < len(b); {
		c := b[i]
		switch {
		case c >= 0x20 && c < utf8.RuneSelf || c == '\n' || c == '\t':
			i++
		case c == '\r':
			dec = true
			i++
		case c < 0x20:
			return false, i
		default:
			n := decodeChar(b[i:])
			if n == 0 {
				return false, i
			}
			i += n
		}
	}
	return dec, -1
}

// xmlRef decodes the entity or character reference at the start of b
// ('&'): the character and the reference's length, or 0 when it is not a
// predefined entity or a reference to a legal character.
func xmlRef(b []byte) (rune, int) {
	if len(b) > 1 && b[1] == '#' {
		i, base := 2, rune(10)
		if i < len(b) && b[i] == 'x' {
			base = 16
			i++
		}
		start := i
		var v rune
	digits:
		for ; i < len(b); i++ {
			c := b[i]
			var d rune
			switch {
			case '0' <= c && c <= '9':
				d = rune(c - '0')
			case base == 16 && 'a' <= c && c <= 'f':
				d = rune(c-'a') + 10
			case base == 16 && 'A' <= c && c <= 'F':
				d = rune(c-'A') + 10
			default:
				break digits
			}
			if v <= utf8.MaxRune {
				v = v*base + d
			}
		}
		if i == start || i >= len(b) || b[i] != ';' || !isXMLChar(v) {
			return 0, 0
		}
		return v, i + 1
	}
	i := 1
	for i < len(b) && (b[i] >= utf8.RuneSelf || xmlClass[b[i]]&cName != 0) {
		i++
	}
	if i >= len(b) || b[i] != ';' {
		return 0, 0
	}
	switch string(b[1:i]) {
	case "lt":
		return '<', i + 1
	case "gt":
		return '>', i + 1
	case "amp":
		return '&', i + 1
	case "apos":
		return '\'', i + 1
	case "quot":
		return '"', i + 1
	}
	return 0, 0
}

// Decoding modes of appendDecoded.
const (
	modeText  uint8 = iota // references, CR LF and CR to LF
	modeAttr               // as modeText, then TAB, LF and CR to space
	modeCDATA              // CR LF and CR to LF only
)

// appendDecoded appends validated text, decoded, to dst.
func appendDecoded(dst, b []byte, mode uint8) []byte {
	for i := 0; i < len(b); {
		switch c := b[i]; c {
		case '&':
			if mode == modeCDATA {
				dst = append(dst, c)
				i++
				continue
			}
			r, n := xmlRef(b[i:])
			dst = utf8.AppendRune(dst, r)
			i += n
		case '\r':
			if mode == modeAttr {
				dst = append(dst, ' ')
			} else {
				dst = append(dst, '\n')
			}
			i++
			if i < len(b) && b[i] == '\n' {
				i++
			}
		case '\t', '\n':
			if mode == modeAttr {
				c = ' '
			}
			dst = append(dst, c)
			i++
		default:
			j := i + 1
			for j < len(b) && b[j] != '&' && b[j] != '\r' && b[j] != '\t' && b[j] != '\n' {
				j++
			}
			dst = append(dst, b[i:j]...)
			i = j
		}
	}
	return dst
}

// nonASCIIChar returns the length of the character that starts at b[i]
// (not ASCII) in text or an attribute value: errNeedMore when b ends
// inside it, a syntax error when it is not UTF-8 or not an XML Char.
func nonASCIIChar(b []byte, i int) (int, error) {
	if !utf8.FullRune(b[i:]) {
		return 0, errNeedMore
	}
	n := decodeChar(b[i:])
	if n == 0 {
		return 0, synErr(ErrMalformed, i, "invalid UTF-8 or illegal character")
	}
	return n, nil
}

package ccs

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// FuzzFramer checks the framer's verdict and items against encoding/xml on
// header + body + stream end.
//
// encoding/xml (RawToken, with the checks below done by the oracle) is the
// reference. The framer is intentionally stricter where encoding/xml does
// not implement a rule of XML 1.0, Namespaces in XML or RFC 6120; the
// oracle detects each such input and then only requires the framer to
// refuse it:
//   - comments, processing instructions and DOCTYPE or other declarations
//     (restricted XML in XMPP; encoding/xml returns them as tokens);
//   - character data other than literal white space between stanzas
//     (a reference or a CDATA section included);
//   - end tags that do not match (RawToken does not check them);
//   - duplicate attributes, by qualified or by expanded name;
//   - undeclared prefixes, qualified names with a leading or trailing
//     colon, empty prefixed namespace names, misuse of the xml and xmlns
//     prefixes and namespace names;
//   - attributes not separated by white space (<a b="1"c="2">);
//   - character references to surrogates (encoding/xml makes them U+FFFD);
//   - the framer's limits: nesting depth, 64 attributes, stanza size.
//
// Attribute values, namespace names included, are normalised as XML 1.0
// section 3.3.3 requires (literal TAB, LF, CR and CR LF become a space;
// character references are kept): the framer does it, encoding/xml does
// not, so the oracle normalises the raw value before encoding/xml decodes
// its references.
func FuzzFramer(f *testing.F) {
	for _, tc := range stanzaCases {
		f.Add([]byte(tc.stanza))
	}
	for _, tc := range errorCases {
		f.Add([]byte(tc.body))
	}
	f.Add([]byte(" <presence/>\n\t<iq type='get' id='1'><ping xmlns='urn:xmpp:ping'/></iq>  "))
	f.Add([]byte(`<message>&#xD800;</message>`))
	f.Add([]byte(`<message a="1"b="2"/>`))
	f.Fuzz(func(t *testing.T, body []byte) {
		in := append(append([]byte(testHeader), body...), testEnd...)
		got, gerr := frameAll(bytes.NewReader(in), FramerConfig{})
		var se *SyntaxError
		if gerr != io.EOF && gerr != io.ErrUnexpectedEOF && !errors.As(gerr, &se) {
			t.Fatalf("Next() error %v (%T); want io.EOF, io.ErrUnexpectedEOF or a *SyntaxError", gerr, gerr)
		}
		// Split into one-byte reads, the framer must see the same.
		one, oerr := frameAll(iotest.OneByteReader(bytes.NewReader(in)), FramerConfig{})
		if sameErr(oerr, gerr) != nil || fmt.Sprint(mergeKeepalives(one)) != fmt.Sprint(mergeKeepalives(got)) {
			t.Fatalf("one byte per read: %v, %+v\nin one read: %v, %+v", oerr, one, gerr, got)
		}
		framerOK := gerr == io.EOF && len(got) > 0 && got[len(got)-1].Kind == KindStreamEnd
		want, strict, xerr := xmlOracle(in)
		switch {
		case framerOK && xerr != nil:
			t.Fatalf("framer accepts what encoding/xml refuses (%v)", xerr)
		case framerOK && strict != "":
			t.Fatalf("framer accepts input with %s", strict)
		case !framerOK && xerr == nil && strict == "":
			t.Fatalf("framer refuses (%v) what encoding/xml accepts", gerr)
		case !framerOK:
			return
		}
		got, want = mergeKeepalives(got), mergeKeepalives(want)
		if len(got) != len(want) {
			t.Fatalf("framer: %d items, encoding/xml: %d\n%+v\n%+v", len(got), len(want), got, want)
		}
		for i := range got {
			if got[i] != want[i] {
				t.Fatalf("item %d: framer\n%+v\nencoding/xml\n%+v", i, got[i], want[i])
			}
		}
	})
}

// sameErr returns an error unless a and b are the same outcome: equal, or
// syntax errors with the same sentinel at the same offset.
func sameErr(a, b error) error {
	var sa, sb *SyntaxError
	if a == b || errors.As(a, &sa) && errors.As(b, &sb) && sa.Err == sb.Err && sa.Offset == sb.Offset {
		return nil
	}
	return fmt.Errorf("%v != %v", a, b)
}

// rawAttrs returns the values of the attributes of a start tag that
// encoding/xml accepted, normalised (normAttr), by qualified name.
func rawAttrs(tag []byte) map[string]string {
	m := map[string]string{}
	i := 1
	for i < len(tag) && !strings.ContainsRune(" \t\r\n/>", rune(tag[i])) {
		i++
	}
	for {
		for i < len(tag) && strings.ContainsRune(" \t\r\n", rune(tag[i])) {
			i++
		}
		if i >= len(tag) || tag[i] == '/' || tag[i] == '>' {
			return m
		}
		n := i
		for !strings.ContainsRune(" \t\r\n=", rune(tag[i])) {
			i++
		}
		name := string(tag[n:i])
		for tag[i] != '"' && tag[i] != '\'' {
			i++
		}
		q := tag[i]
		e := bytes.IndexByte(tag[i+1:], q)
		m[name] = normAttr(tag[i+1:i+1+e], q)
		i += e + 2
	}
}

// normAttr normalises a raw attribute value as XML 1.0 section 3.3.3
// says, then has encoding/xml resolve its references.
func normAttr(raw []byte, quote byte) string {
	var b []byte
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		switch c {
		case '\r':
			if i+1 < len(raw) && raw[i+1] == '\n' {
				i++
			}
			c = ' '
		case '\t', '\n':
			c = ' '
		}
		b = append(b, c)
	}
	doc := append(append(append([]byte("<x a="), quote), b...), quote, '/', '>')
	tok, err := xml.NewDecoder(bytes.NewReader(doc)).RawToken()
	if err != nil {
		panic(fmt.Sprintf("normAttr(%q): %v", raw, err))
	}
	return tok.(xml.StartElement).Attr[0].Value
}

var refRE = regexp.MustCompile(`&#(x[0-9a-fA-F]+|[0-9]+);`)

// surrogateRef reports whether raw markup refers to a surrogate code point.
func surrogateRef(raw []byte) bool {
	if bytes.HasPrefix(raw, []byte("<![CDATA[")) {
		return false
	}
	for _, m := range refRE.FindAllSubmatch(raw, -1) {
		s, base := string(m[1]), 10
		if s[0] == 'x' {
			s, base = s[1:], 16
		}
		if v, err := strconv.ParseUint(s, base, 32); err == nil && v >= 0xD800 && v <= 0xDFFF {
			return true
		}
	}
	return false
}

// attrsSeparated reports whether every attribute of the raw start tag is
// preceded by white space.
func attrsSeparated(raw []byte) bool {
	var quote byte
	for i := 1; i < len(raw); i++ {
		c := raw[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
				if i+1 < len(raw) && !strings.ContainsRune(" \t\r\n/>", rune(raw[i+1])) {
					return false
				}
			}
		case c == '"' || c == '\'':
			quote = c
		}
	}
	return true
}

// xmlOracle frames in with encoding/xml. It returns the items the framer
// must produce, what rule only the framer enforces the input breaks (or
// ""), and encoding/xml's error (or a mismatched end tag).
func xmlOracle(in []byte) (items []item, strict string, xerr error) {
	d := xml.NewDecoder(bytes.NewReader(in))
	flag := func(why string) {
		if strict == "" {
			strict = why
		}
	}
	type open struct {
		qname string
		decls map[string]string
		role  uint8
	}
	var stack []open
	lookup := func(prefix string) (string, bool) {
		for i := len(stack) - 1; i >= 0; i-- {
			if u, ok := stack[i].decls[prefix]; ok {
				return u, true
			}
		}
		if prefix == "xml" {
			return xmlURI, true
		}
		return "", prefix == ""
	}
	qn := func(n xml.Name) string {
		if n.Space == "" {
			return n.Local
		}
		return n.Space + ":" + n.Local
	}
	var (
		cur                             item
		curStart                        int64
		text, gcm, errText              strings.Builder
		hasText, hasGCMText, hasErrText bool
		isErr, errSeen, errTextTaken    bool
		topURI                          string
	)
	str := func(s string, present bool) string {
		if !present {
			return ""
		}
		if s == "" {
			return "∅"
		}
		return s
	}
	for {
		off := d.InputOffset()
		tok, err := d.RawToken()
		if err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return items, strict, err
		}
		end := d.InputOffset()
		raw := in[off:end]
		depth := len(stack)
		switch t := tok.(type) {
		case xml.ProcInst:
			if !(depth == 0 && off == 0 && t.Target == "xml") {
				flag("a processing instruction")
			}
		case xml.Comment:
			flag("a comment")
		case xml.Directive:
			flag("a DOCTYPE or declaration")
		case xml.CharData:
			if surrogateRef(raw) {
				flag("a reference to a surrogate")
			}
			switch {
			case depth == 1:
				for _, c := range raw {
					if !strings.ContainsRune(" \t\r\n", rune(c)) {
						flag("character data between stanzas")
					}
				}
				if len(raw) > 0 {
					items = append(items, item{Kind: KindKeepalive, Raw: string(raw)})
				}
			case depth == 2:
				if len(t) > 0 {
					text.Write(t)
					hasText = true
				}
			case depth > 2:
				switch stack[depth-1].role {
				case roleGCM:
					if len(t) > 0 {
						gcm.Write(t)
						hasGCMText = true
					}
				case roleErrText:
					if len(t) > 0 {
						errText.Write(t)
						hasErrText = true
					}
				}
			}
		case xml.StartElement:
			if surrogateRef(raw) {
				flag("a reference to a surrogate")
			}
			if !attrsSeparated(raw) {
				flag("attributes without white space between them")
			}
			if len(t.Attr) > maxAttrs {
				flag("too many attributes")
			}
			o := open{qname: qn(t.Name), decls: map[string]string{}}
			norm := rawAttrs(raw)
			for i := range t.Attr {
				t.Attr[i].Value = norm[qn(t.Attr[i].Name)]
			}
			for _, a := range t.Attr {
				switch {
				case a.Name.Space == "" && a.Name.Local == "xmlns":
					if a.Value == xmlURI || a.Value == xmlnsURI {
						flag("a reserved namespace as default")
					}
					o.decls[""] = a.Value
				case a.Name.Space == "xmlns":
					p := a.Name.Local
					switch {
					case p == "xmlns":
						flag("the xmlns prefix declared")
					case p == "xml" && a.Value != xmlURI:
						flag("the xml prefix rebound")
					case p != "xml" && (a.Value == xmlURI || a.Value == xmlnsURI):
						flag("a reserved namespace bound")
					case a.Value == "":
						flag("an empty prefixed namespace")
					}
					o.decls[p] = a.Value
				}
			}
			stack = append(stack, o)
			depth++
			badQName := func(n xml.Name) bool { return n.Space == "" && strings.Contains(n.Local, ":") }
			if badQName(t.Name) {
				flag("a bad qualified name")
			}
			if t.Name.Space == "xmlns" {
				flag("an element with the xmlns prefix")
			}
			uri, ok := lookup(t.Name.Space)
			if !ok {
				flag("an undeclared prefix")
			}
			type exp struct{ space, local string }
			seen := map[exp]bool{}
			seenRaw := map[string]bool{}
			attr := map[string]*string{}
			for _, a := range t.Attr {
				if badQName(a.Name) {
					flag("a bad qualified name")
				}
				if seenRaw[qn(a.Name)] {
					flag("a duplicate attribute")
				}
				seenRaw[qn(a.Name)] = true
				if a.Name.Space != "" && a.Name.Space != "xmlns" {
					u, ok := lookup(a.Name.Space)
					if !ok {
						flag("an undeclared attribute prefix")
					}
					if seen[exp{u, a.Name.Local}] {
						flag("a duplicate expanded attribute")
					}
					seen[exp{u, a.Name.Local}] = true
				}
				if a.Name.Space == "" {
					v := a.Value
					attr[a.Name.Local] = &v
				}
			}
			av := func(name string) string {
				if v := attr[name]; v != nil {
					return str(*v, true)
				}
				return ""
			}
			if depth-1 > DefaultMaxDepth {
				flag("nesting deeper than the limit")
			}
			e := &stack[depth-1]
			switch depth {
			case 1:
				items = append(items, item{Kind: KindStreamStart, Raw: string(in[:end]), ID: av("id"), To: av("to"), From: av("from")})
			case 2:
				cur = item{Kind: kindOf([]byte(uri), []byte(t.Name.Local), []byte(NSClient)),
					ID: av("id"), Type: av("type"), To: av("to"), From: av("from")}
				curStart = off
				text.Reset()
				gcm.Reset()
				errText.Reset()
				hasText, hasGCMText, hasErrText, errSeen, errTextTaken = false, false, false, false, false
				topURI = uri
				isErr = attr["type"] != nil && *attr["type"] == "error" &&
					(cur.Kind == KindMessage || cur.Kind == KindIQ || cur.Kind == KindPresence)
			case 3:
				if cur.Child == "" {
					cur.Child, cur.ChildSpace = t.Name.Local, str(uri, true)
				}
				errChild := func() {
					if t.Name.Local == "text" {
						if !errTextTaken {
							errTextTaken = true
							e.role = roleErrText
						}
					} else if cur.ErrorCondition == "" {
						cur.ErrorCondition = t.Name.Local
					}
				}
				switch {
				case cur.Kind == KindMessage && !cur.HasGCM && t.Name.Local == "gcm" && uri == NSGCM:
					e.role = roleGCM
					cur.HasGCM = true
				case isErr && !errSeen && t.Name.Local == "error" && uri == topURI:
					e.role = roleError
					errSeen = true
					cur.ErrorCode = av("code")
				case cur.Kind == KindStreamError && uri == NSStreams:
					errChild()
				}
			case 4:
				if stack[2].role == roleError && uri == NSStanzas {
					if t.Name.Local == "text" {
						if !errTextTaken {
							errTextTaken = true
							e.role = roleErrText
						}
					} else if cur.ErrorCondition == "" {
						cur.ErrorCondition = t.Name.Local
					}
				}
			}
		case xml.EndElement:
			if depth == 0 || stack[depth-1].qname != qn(t.Name) {
				return items, strict, errors.New("mismatched end tag")
			}
			stack = stack[:depth-1]
			switch depth {
			case 1:
				items = append(items, item{Kind: KindStreamEnd, Raw: string(raw)})
				return items, strict, nil
			case 2:
				if end-curStart > DefaultMaxStanza {
					flag("a stanza over the size limit")
				}
				cur.Raw = string(in[curStart:end])
				cur.Text = str(text.String(), hasText)
				cur.GCM = str(gcm.String(), cur.HasGCM)
				if cur.HasGCM && !hasGCMText {
					cur.GCM = "∅"
				}
				cur.ErrorText = str(errText.String(), hasErrText)
				items = append(items, cur)
			}
		}
	}
}

package ccs

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math/bits"
	"unicode/utf8"
)

// The scanner: every function here works on b, the buffered bytes from the
// start of the current item, and reports positions relative to b[0]. It
// returns errNeedMore when b ends inside the item, and a *SyntaxError
// (offset relative to b[0]) for bad input. It never reads outside b. Its
// state lives in the Framer's item fields, reset at the start of every
// item; a stanza cut by the end of b keeps them, committed up to the start
// of the cut token, and its scan resumes there (Framer.cut).

const (
	xmlURI   = "http://www.w3.org/XML/1998/namespace"
	xmlnsURI = "http://www.w3.org/2000/xmlns/"
)

var xmlURIBytes = []byte(xmlURI)

func synErr(sentinel error, off int, detail string) *SyntaxError {
	return &SyntaxError{Err: sentinel, Offset: int64(off), Detail: detail}
}

// acc accumulates the decoded character data of one value of an item: a
// slice of the input while it is one run that needs no decoding, otherwise
// a range at the tail of Framer.scratch.
type acc struct {
	v    []byte
	set  bool
	tail int // len(scratch) right after v was last extended there, 0 when v is not in scratch
}

// addRaw appends a run that needs no decoding.
func (f *Framer) addRaw(a *acc, r []byte) {
	if len(a.v) == 0 {
		a.v, a.tail = r, 0
		return
	}
	f.toTail(a)
	f.scratch = append(f.scratch, r...)
	a.v = f.scratch[len(f.scratch)-len(a.v)-len(r):]
	a.tail = len(f.scratch)
}

// addDecoded appends a run (validated character data, CDATA content or an
// attribute value), decoding it.
func (f *Framer) addDecoded(a *acc, r []byte, mode uint8) {
	f.toTail(a)
	s := len(f.scratch) - len(a.v)
	f.scratch = appendDecoded(f.scratch, r, mode)
	a.v = f.scratch[s:]
	a.tail = len(f.scratch)
}

// toTail moves a's value to the tail of scratch, so that it can grow there.
func (f *Framer) toTail(a *acc) {
	if a.tail == len(f.scratch) && a.tail != 0 {
		return
	}
	s := len(f.scratch)
	f.scratch = append(f.scratch, a.v...)
	a.v = f.scratch[s:]
	a.tail = len(f.scratch)
}

// attrValue returns the decoded value of an attribute.
func (f *Framer) attrValue(a *attr) []byte {
	if !a.dec {
		return a.val
	}
	s := len(f.ascratch)
	f.ascratch = appendDecoded(f.ascratch, a.val, modeAttr)
	return f.ascratch[s:len(f.ascratch):len(f.ascratch)]
}

// scanItem scans one top-level item at the start of b and returns its
// length, with f.st filled.
func (f *Framer) scanItem(b []byte) (int, error) {
	f.wake, f.wakeLen = [3]byte{'>'}, 1
	if f.state == stHeader {
		return f.scanHeader(b)
	}
	c := b[0]
	if xmlClass[c]&cSpace != 0 {
		i := 1
		for i < len(b) && xmlClass[b[i]]&cSpace != 0 {
			i++
		}
		f.st = Stanza{Kind: KindKeepalive, Raw: b[:i]}
		return i, nil
	}
	if c != '<' {
		return 0, synErr(ErrMalformed, 0, "character data between stanzas")
	}
	if len(b) < 2 {
		return 0, errNeedMore
	}
	switch b[1] {
	case '/':
		qname, q, err := endTag(b, 0)
		if err != nil {
			return 0, err
		}
		if !bytes.Equal(qname, f.hdrName) {
			return 0, synErr(ErrMalformed, 0, fmt.Sprintf("stream <%s> closed by </%s>", f.hdrName, qname))
		}
		f.st = Stanza{Kind: KindStreamEnd, Raw: b[:q]}
		f.state = stEnded
		return q, nil
	case '!':
		if err := bang(b, 0); err != nil {
			return 0, err
		}
		return 0, synErr(ErrMalformed, 0, "CDATA section between stanzas")
	case '?':
		return 0, synErr(ErrRestricted, 0, "processing instruction")
	}
	return f.scanStanza(b)
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

// resetItem clears the per-item state before a stanza or header is scanned.
func (f *Framer) resetItem() {
	f.scratch = f.scratch[:0]
	f.ascratch = f.ascratch[:0]
	f.st = Stanza{}
	f.text, f.gcm, f.errText = acc{}, acc{}, acc{}
	f.ns = f.ns[:f.nHdr]
	f.topURI = nil
	f.isErr, f.errSeen = false, false
}

// scanStanza scans the element starting at b[0].
func (f *Framer) scanStanza(b []byte) (int, error) {
	p, depth := 0, 0
	if f.ck {
		p, depth = f.ckP, f.ckDepth
	} else {
		f.resetItem()
	}
	for {
		if p > f.maxStanza {
			return 0, synErr(ErrStanzaTooLarge, f.maxStanza, "stanza longer than the size limit")
		}
		// Character data up to the next '<'.
		if p < len(b) && b[p] != '<' {
			q, dec, err := scanText(b, p)
			if err == errNeedMore {
				return f.cut(p, depth, "<")
			}
			if err != nil {
				return 0, err
			}
			if a := f.accFor(depth); a != nil {
				if dec {
					f.addDecoded(a, b[p:q], modeText)
				} else {
					f.addRaw(a, b[p:q])
				}
			}
			p = q
		}
		// b[p] == '<'
		if p+1 >= len(b) {
			return f.cut(p, depth, ">")
		}
		switch b[p+1] {
		case '/':
			e := &f.stack[depth-1]
			q := p + 2 + len(e.qname)
			if q < len(b) && b[q] == '>' && string(b[p+2:q]) == string(e.qname) {
				q++ // the usual </name>: no need to scan the name again
			} else {
				qname, qe, err := endTag(b, p)
				if err == errNeedMore {
					return f.cut(p, depth, ">")
				}
				if err != nil {
					return 0, err
				}
				if !bytes.Equal(qname, e.qname) {
					return 0, synErr(ErrMalformed, p, fmt.Sprintf("element <%s> closed by </%s>", e.qname, qname))
				}
				q = qe
			}
			f.ns = f.ns[:e.nsTop]
			depth--
			p = q
			if depth == 0 {
				return f.finish(b, p)
			}
		case '!':
			if err := bang(b, p); err == errNeedMore {
				return f.cut(p, depth, ">")
			} else if err != nil {
				return 0, err
			}
			q := p + len("<![CDATA[")
			i := bytes.Index(b[q:], []byte("]]>"))
			if i < 0 {
				return f.cut(p, depth, "]]>")
			}
			run := b[q : q+i]
			dec, bad := checkCDATA(run)
			if bad >= 0 {
				return 0, synErr(ErrMalformed, q+bad, "illegal character in CDATA section")
			}
			if a := f.accFor(depth); a != nil && len(run) > 0 {
				if dec {
					f.addDecoded(a, run, modeCDATA)
				} else {
					f.addRaw(a, run)
				}
			}
			p = q + i + 3
		case '?':
			return 0, synErr(ErrRestricted, p, "processing instruction")
		default:
			if depth == f.maxDepth {
				return 0, synErr(ErrTooDeep, p, fmt.Sprintf("elements nested deeper than %d", f.maxDepth))
			}
			f.wake, f.wakeLen = [3]byte{'>'}, 1
			qname, colon, q, empty, err := f.startTag(b, p)
			if err == errNeedMore {
				return f.cutWake(p, depth)
			}
			if err != nil {
				return 0, err
			}
			e := &f.stack[depth]
			e.qname, e.nsTop, e.role = qname, len(f.ns), roleNone
			uri, local, err := f.openElement(qname, colon, p)
			if err != nil {
				return 0, err
			}
			depth++
			f.classify(depth, uri, local)
			p = q
			if empty {
				f.ns = f.ns[:e.nsTop]
				depth--
				if depth == 0 {
					return f.finish(b, p)
				}
			}
		}
	}
}

// cut records where the scan of a stanza cut by the end of the buffered
// bytes resumes: at p, the start of the cut token, at depth; wake is what
// must arrive before that token can end.
func (f *Framer) cut(p, depth int, wake string) (int, error) {
	f.wakeLen = copy(f.wake[:], wake)
	return f.cutWake(p, depth)
}

// cutWake is cut with the wake pattern already in f.wake.
func (f *Framer) cutWake(p, depth int) (int, error) {
	f.ck, f.ckP, f.ckDepth = true, p, depth
	return 0, errNeedMore
}

// finish completes a stanza of length n.
func (f *Framer) finish(b []byte, n int) (int, error) {
	if n > f.maxStanza {
		return 0, synErr(ErrStanzaTooLarge, f.maxStanza, "stanza longer than the size limit")
	}
	f.st.Raw = b[:n]
	if f.gcm.set {
		f.st.HasGCM = true
		f.st.GCM = f.gcm.v
		if f.st.GCM == nil {
			f.st.GCM = b[:0]
		}
	}
	f.st.Text = f.text.v
	f.st.ErrorText = f.errText.v
	return n, nil
}

// accFor returns the accumulator fed by character data at depth, or nil.
func (f *Framer) accFor(depth int) *acc {
	if depth == 1 {
		return &f.text
	}
	switch f.stack[depth-1].role {
	case roleGCM:
		return &f.gcm
	case roleErrText:
		return &f.errText
	}
	return nil
}

// classify records what the element just opened at depth means for the
// stanza: its kind and attributes at depth 1, the payload, child and error
// fields below.
// topAttrs fills the Stanza's id, type, to and from from the un-prefixed
// attributes of the top-level element just scanned.
func (f *Framer) topAttrs() {
	for i := 0; i < f.nattr; i++ {
		a := &f.attrs[i]
		if a.colon >= 0 {
			continue
		}
		switch string(a.qname) {
		case "id":
			f.st.ID = f.attrValue(a)
		case "type":
			f.st.Type = f.attrValue(a)
		case "to":
			f.st.To = f.attrValue(a)
		case "from":
			f.st.From = f.attrValue(a)
		}
	}
}

func (f *Framer) classify(depth int, uri, local []byte) {
	e := &f.stack[depth-1]
	switch depth {
	case 1:
		f.topURI = uri
		f.st.Kind = kindOf(uri, local, f.defNS)
		f.topAttrs()
		f.isErr = string(f.st.Type) == "error" &&
			(f.st.Kind == KindMessage || f.st.Kind == KindIQ || f.st.Kind == KindPresence)
	case 2:
		if f.st.Child == nil {
			f.st.Child, f.st.ChildSpace = local, uri
			if f.st.ChildSpace == nil {
				f.st.ChildSpace = local[:0]
			}
		}
		switch {
		case f.st.Kind == KindMessage && !f.gcm.set && string(local) == "gcm" && string(uri) == NSGCM:
			e.role = roleGCM
			f.gcm.set = true
		case f.isErr && !f.errSeen && string(local) == "error" && bytes.Equal(uri, f.topURI):
			e.role = roleError
			f.errSeen = true
			for i := 0; i < f.nattr; i++ {
				if a := &f.attrs[i]; a.colon < 0 && string(a.qname) == "code" {
					f.st.ErrorCode = f.attrValue(a)
				}
			}
		case f.st.Kind == KindStreamError && string(uri) == NSStreams:
			f.errorChild(e, local)
		}
	case 3:
		if f.stack[1].role == roleError && string(uri) == NSStanzas {
			f.errorChild(e, local)
		}
	}
}

// errorChild handles a child of an error element: the condition or <text>.
func (f *Framer) errorChild(e *elemFrame, local []byte) {
	if string(local) == "text" {
		if !f.errText.set {
			f.errText.set = true
			e.role = roleErrText
		}
	} else if f.st.ErrorCondition == nil {
		f.st.ErrorCondition = local
	}
}

// kindOf classifies a top-level element.
func kindOf(uri, local, defNS []byte) Kind {
	switch {
	case bytes.Equal(uri, defNS):
		switch string(local) {
		case "message":
			return KindMessage
		case "iq":
			return KindIQ
		case "presence":
			return KindPresence
		}
	case string(uri) == NSStream:
		switch string(local) {
		case "error":
			return KindStreamError
		case "features":
			return KindFeatures
		}
	case string(uri) == NSSASL:
		switch string(local) {
		case "auth":
			return KindAuth
		case "success":
			return KindSuccess
		case "failure":
			return KindFailure
		}
	}
	return KindOther
}

// scanHeader scans the prolog and the stream header at the start of b.
func (f *Framer) scanHeader(b []byte) (int, error) {
	f.resetItem()
	f.ns = f.ns[:0]
	f.nHdr = 0
	p := skipSpace(b, 0)
	if p+6 > len(b) && bytes.HasPrefix([]byte("<?xml "), b[p:]) {
		return 0, errNeedMore
	}
	if bytes.HasPrefix(b[p:], []byte("<?xml")) && xmlClass[b[p+5]]&cSpace != 0 {
		q, err := xmlDecl(b, p)
		if err != nil {
			return 0, err
		}
		p = skipSpace(b, q)
	}
	if p >= len(b) {
		return 0, errNeedMore
	}
	if b[p] != '<' {
		return 0, synErr(ErrMalformed, p, "data before the stream header")
	}
	if p+1 >= len(b) {
		return 0, errNeedMore
	}
	switch b[p+1] {
	case '!':
		if err := bang(b, p); err != nil {
			return 0, err
		}
		return 0, synErr(ErrMalformed, p, "CDATA section before the stream header")
	case '?':
		return 0, synErr(ErrRestricted, p, "processing instruction")
	case '/':
		return 0, synErr(ErrMalformed, p, "end tag before the stream header")
	}
	qname, colon, q, empty, err := f.startTag(b, p)
	if err != nil {
		return 0, err
	}
	uri, local, err := f.openElement(qname, colon, p)
	if err != nil {
		return 0, err
	}
	if string(uri) != NSStream || string(local) != "stream" {
		return 0, synErr(ErrBadNamespace, p, fmt.Sprintf("stream header <%s> is not {%s}stream", qname, NSStream))
	}
	if empty {
		return 0, synErr(ErrMalformed, p, "empty stream header <"+string(qname)+"/>")
	}
	if q > f.maxStanza {
		return 0, synErr(ErrStanzaTooLarge, f.maxStanza, "stream header longer than the size limit")
	}
	f.topAttrs()
	f.keepHeader(qname)
	f.st.Kind = KindStreamStart
	f.st.Raw = b[:q]
	f.hdrOff = p
	f.state = stStream
	return q, nil
}

// keepHeader copies the header's name and namespace bindings into
// framer-owned storage, so that they stay in scope for every stanza.
func (f *Framer) keepHeader(qname []byte) {
	n := len(qname)
	for _, x := range f.ns {
		n += len(x.prefix) + len(x.uri)
	}
	if cap(f.hdr) < n {
		f.hdr = make([]byte, 0, n)
	}
	h := f.hdr[:0]
	h = append(h, qname...)
	f.hdrName = h[:len(qname):len(qname)]
	for i := range f.ns {
		x := &f.ns[i]
		s := len(h)
		h = append(h, x.prefix...)
		x.prefix = h[s:len(h):len(h)]
		s = len(h)
		h = append(h, x.uri...)
		x.uri = h[s:len(h):len(h)]
	}
	f.hdr = h
	f.nHdr = len(f.ns)
	f.defNS, _ = f.lookup(nil)
	if f.defNS == nil {
		f.defNS = h[:0]
	}
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

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

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

// startTag scans the start tag at b[p] ('<' and a name character seen),
// filling f.attrs. It returns the element's qualified name, its colon
// offset, the position after the tag and whether it was an empty-element
// tag.
func (f *Framer) startTag(b []byte, p int) (qname []byte, colon, q int, empty bool, err error) {
	q, colon, err = scanName(b, p+1)
	if err != nil {
		return
	}
	qname = b[p+1 : q]
	f.nattr = 0
	for {
		s := q
		q = skipSpace(b, q)
		if q >= len(b) {
			err = errNeedMore
			return
		}
		switch b[q] {
		case '>':
			q++
			return
		case '/':
			if q+1 >= len(b) {
				err = errNeedMore
			} else if b[q+1] != '>' {
				err = synErr(ErrMalformed, q, "expected /> in element")
			} else {
				q, empty = q+2, true
			}
			return
		}
		if q == s {
			err = synErr(ErrMalformed, q, "missing white space before attribute")
			return
		}
		if f.nattr == maxAttrs {
			err = synErr(ErrStanzaTooLarge, q, fmt.Sprintf("more than %d attributes on one element", maxAttrs))
			return
		}
		a := &f.attrs[f.nattr]
		n := q
		if q, a.colon, err = scanName(b, q); err != nil {
			return
		}
		a.qname = b[n:q]
		q = skipSpace(b, q)
		if q >= len(b) {
			err = errNeedMore
			return
		}
		if b[q] != '=' {
			err = synErr(ErrMalformed, q, "attribute "+string(a.qname)+" without a value")
			return
		}
		q = skipSpace(b, q+1)
		if q >= len(b) {
			err = errNeedMore
			return
		}
		quote := b[q]
		if quote != '"' && quote != '\'' {
			err = synErr(ErrMalformed, q, "unquoted attribute value")
			return
		}
		q++
		var e int
		if e, a.dec, err = scanAttrValue(b, q, quote); err != nil {
			if err == errNeedMore {
				f.wake, f.wakeLen = [3]byte{quote}, 1
			}
			return
		}
		a.val = b[q:e]
		a.uri = nil
		f.nattr++
		q = e + 1
	}
}

// openElement pushes the namespace declarations of the tag just scanned,
// checks its attributes and resolves the element's name. pos is the tag's
// position, for errors.
func (f *Framer) openElement(qname []byte, colon, pos int) (uri, local []byte, err error) {
	attrs := f.attrs[:f.nattr]
	for i := range attrs {
		a := &attrs[i]
		var prefix []byte
		switch {
		case string(a.qname) == "xmlns":
			prefix = a.qname[:0]
		case a.colon == 5 && string(a.qname[:5]) == "xmlns":
			prefix = a.qname[6:]
		default:
			continue
		}
		v := f.attrValue(a)
		switch {
		case string(prefix) == "xmlns":
			return nil, nil, synErr(ErrBadNamespace, pos, "the xmlns prefix cannot be declared")
		case string(prefix) == "xml":
			if string(v) != xmlURI {
				return nil, nil, synErr(ErrBadNamespace, pos, "the xml prefix cannot be rebound")
			}
		case string(v) == xmlURI || string(v) == xmlnsURI:
			return nil, nil, synErr(ErrBadNamespace, pos, "reserved namespace name "+string(v))
		case len(v) == 0 && len(prefix) > 0:
			return nil, nil, synErr(ErrBadNamespace, pos, "empty namespace name for prefix "+string(prefix))
		}
		f.ns = append(f.ns, nsBinding{prefix: prefix, uri: v})
	}
	for i := range attrs {
		a := &attrs[i]
		if a.colon < 0 || a.colon == 5 && string(a.qname[:5]) == "xmlns" {
			continue
		}
		u, ok := f.lookup(a.qname[:a.colon])
		if !ok {
			return nil, nil, synErr(ErrBadNamespace, pos, "undeclared prefix in attribute "+string(a.qname))
		}
		a.uri = u
	}
	if len(attrs) > 1 {
		for i := range attrs {
			for j := i + 1; j < len(attrs); j++ {
				x, y := &attrs[i], &attrs[j]
				if bytes.Equal(x.qname, y.qname) ||
					x.uri != nil && y.uri != nil && bytes.Equal(x.qname[x.colon+1:], y.qname[y.colon+1:]) && bytes.Equal(x.uri, y.uri) {
					return nil, nil, synErr(ErrMalformed, pos, "duplicate attribute "+string(y.qname))
				}
			}
		}
	}
	var prefix []byte
	local = qname
	if colon >= 0 {
		prefix, local = qname[:colon], qname[colon+1:]
		if string(prefix) == "xmlns" {
			return nil, nil, synErr(ErrBadNamespace, pos, "element with the xmlns prefix")
		}
	}
	uri, ok := f.lookup(prefix)
	if !ok {
		return nil, nil, synErr(ErrBadNamespace, pos, "undeclared prefix in element "+string(qname))
	}
	return uri, local, nil
}

// lookup returns the namespace bound to prefix (nil or empty: the default
// namespace). The default namespace may be unbound (nil, true).
func (f *Framer) lookup(prefix []byte) ([]byte, bool) {
	for i := len(f.ns) - 1; i >= 0; i-- {
		if bytes.Equal(f.ns[i].prefix, prefix) {
			return f.ns[i].uri, true
		}
	}
	if string(prefix) == "xml" {
		return xmlURIBytes, true
	}
	return nil, len(prefix) == 0
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
			_, n := xmlRef(b[i:])
			if n == 0 {
				if refPrefix(b[i:]) {
					return 0, false, errNeedMore
				}
				return 0, false, synErr(ErrMalformed, i, "invalid entity or character reference")
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
			if !utf8.FullRune(b[i:]) {
				return 0, false, errNeedMore
			}
			n := decodeChar(b[i:])
			if n == 0 {
				return 0, false, synErr(ErrMalformed, i, "invalid UTF-8 or illegal character")
			}
			i += n
		}
	}
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
			_, n := xmlRef(b[i:])
			if n == 0 {
				if refPrefix(b[i:]) {
					return 0, false, errNeedMore
				}
				return 0, false, synErr(ErrMalformed, i, "invalid entity or character reference")
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
			if !utf8.FullRune(b[i:]) {
				return 0, false, errNeedMore
			}
			n := decodeChar(b[i:])
			if n == 0 {
				return 0, false, synErr(ErrMalformed, i, "invalid UTF-8 or illegal character")
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

package ccs

import (
	"bytes"
	"fmt"
)

// The scanner: every method here works on b, the buffered bytes from the
// start of the current item, and reports positions relative to b[0]. It
// returns errNeedMore when b ends inside the item, and a *SyntaxError
// (offset relative to b[0]) for bad input. It never reads outside b. Its
// state is the Framer's item (itemState), cleared at the start of every
// item; a stanza cut by the end of b keeps it, committed up to the start
// of the cut token, and its scan resumes there (Framer.cut). The lexical
// functions it calls, which never touch a Framer, are in frame_lex.go.

// The namespaces of the xml and xmlns prefixes, which XML binds itself.
const (
	xmlURI   = "http://www.w3.org/XML/1998/namespace"
	xmlnsURI = "http://www.w3.org/2000/xmlns/"
)

var xmlURIBytes = []byte(xmlURI)

// scanItem scans one top-level item at the start of b and returns its
// length, with f.item.st filled.
func (f *Framer) scanItem(b []byte) (int, error) {
	f.resume.wake, f.resume.wakeLen = [3]byte{'>'}, 1
	if f.state == stHeader {
		return f.scanHeader(b)
	}
	c := b[0]
	if xmlClass[c]&cSpace != 0 {
		i := 1
		for i < len(b) && xmlClass[b[i]]&cSpace != 0 {
			i++
		}
		f.item.st = Stanza{Kind: KindKeepalive, Raw: b[:i]}
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
		if !bytes.Equal(qname, f.hdr.name) {
			return 0, synErr(ErrMalformed, 0, fmt.Sprintf("stream <%s> closed by </%s>", f.hdr.name, qname))
		}
		f.item.st = Stanza{Kind: KindStreamEnd, Raw: b[:q]}
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

// resetItem clears the per-item state, and the namespace bindings of the
// last stanza, before a stanza or header is scanned.
func (f *Framer) resetItem() {
	f.item.reset()
	f.ns = f.ns[:f.hdr.nBindings]
}

// scanStanza scans the element starting at b[0].
func (f *Framer) scanStanza(b []byte) (int, error) {
	p, depth := 0, 0
	if f.resume.valid {
		p, depth = f.resume.p, f.resume.depth
	} else {
		f.resetItem()
	}
scan:
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
			if a := f.item.accFor(depth); a != nil {
				if dec {
					f.item.addDecoded(a, b[p:q], modeText)
				} else {
					f.item.addRaw(a, b[p:q])
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
			e := &f.item.stack[depth-1]
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
				break scan
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
			if a := f.item.accFor(depth); a != nil && len(run) > 0 {
				if dec {
					f.item.addDecoded(a, run, modeCDATA)
				} else {
					f.item.addRaw(a, run)
				}
			}
			p = q + i + 3
		case '?':
			return 0, synErr(ErrRestricted, p, "processing instruction")
		default:
			if depth == f.maxDepth {
				return 0, synErr(ErrTooDeep, p, fmt.Sprintf("elements nested deeper than %d", f.maxDepth))
			}
			f.resume.wake, f.resume.wakeLen = [3]byte{'>'}, 1
			qname, colon, q, empty, err := f.startTag(b, p)
			if err == errNeedMore {
				return f.cutWake(p, depth)
			}
			if err != nil {
				return 0, err
			}
			e := &f.item.stack[depth]
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
					break scan
				}
			}
		}
	}
	if p > f.maxStanza {
		return 0, synErr(ErrStanzaTooLarge, f.maxStanza, "stanza longer than the size limit")
	}
	f.item.complete(b, p)
	return p, nil
}

// cut records where the scan of a stanza cut by the end of the buffered
// bytes resumes: at p, the start of the cut token, at depth; wake is what
// must arrive before that token can end.
func (f *Framer) cut(p, depth int, wake string) (int, error) {
	f.resume.wakeLen = copy(f.resume.wake[:], wake)
	return f.cutWake(p, depth)
}

// cutWake is cut with the wake pattern already in f.resume.wake.
func (f *Framer) cutWake(p, depth int) (int, error) {
	f.resume.valid, f.resume.p, f.resume.depth = true, p, depth
	return 0, errNeedMore
}

// accFor returns the accumulator fed by character data at depth, or nil.
func (it *itemState) accFor(depth int) *acc {
	if depth == 1 {
		return &it.text
	}
	switch it.stack[depth-1].role {
	case roleGCM:
		return &it.gcm
	case roleErrText:
		return &it.errText
	}
	return nil
}

// classify records what the element just opened at depth means for the
// stanza: its kind and attributes at depth 1, the payload, child and error
// fields below.
func (f *Framer) classify(depth int, uri, local []byte) {
	it := &f.item
	e := &it.stack[depth-1]
	switch depth {
	case 1:
		it.topURI = uri
		it.st.Kind = kindOf(uri, local, f.hdr.defNS)
		it.topAttrs()
		it.isErr = string(it.st.Type) == "error" &&
			(it.st.Kind == KindMessage || it.st.Kind == KindIQ || it.st.Kind == KindPresence)
	case 2:
		if it.st.Child == nil {
			it.st.Child, it.st.ChildSpace = local, uri
			if it.st.ChildSpace == nil {
				it.st.ChildSpace = local[:0]
			}
		}
		switch {
		case it.st.Kind == KindMessage && !it.gcm.set && string(local) == "gcm" && string(uri) == NSGCM:
			e.role = roleGCM
			it.gcm.set = true
		case it.isErr && !it.errSeen && string(local) == "error" && bytes.Equal(uri, it.topURI):
			e.role = roleError
			it.errSeen = true
			for i := 0; i < it.nattr; i++ {
				if a := &it.attrs[i]; a.colon < 0 && string(a.qname) == "code" {
					it.st.ErrorCode = it.attrValue(a)
				}
			}
		case it.st.Kind == KindStreamError && string(uri) == NSStreams:
			it.errorChild(e, local)
		}
	case 3:
		if it.stack[1].role == roleError && string(uri) == NSStanzas {
			it.errorChild(e, local)
		}
	}
}

// topAttrs fills the Stanza's id, type, to and from from the un-prefixed
// attributes of the top-level element just scanned.
func (it *itemState) topAttrs() {
	for i := 0; i < it.nattr; i++ {
		a := &it.attrs[i]
		if a.colon >= 0 {
			continue
		}
		switch string(a.qname) {
		case "id":
			it.st.ID = it.attrValue(a)
		case "type":
			it.st.Type = it.attrValue(a)
		case "to":
			it.st.To = it.attrValue(a)
		case "from":
			it.st.From = it.attrValue(a)
		}
	}
}

// errorChild handles a child of an error element: the condition or <text>.
func (it *itemState) errorChild(e *elemFrame, local []byte) {
	if string(local) == "text" {
		if !it.errText.set {
			it.errText.set = true
			e.role = roleErrText
		}
	} else if it.st.ErrorCondition == nil {
		it.st.ErrorCondition = local
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
	f.hdr.nBindings = 0
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
	f.item.topAttrs()
	f.keepHeader(qname)
	f.item.st.Kind = KindStreamStart
	f.item.st.Raw = b[:q]
	f.hdr.off = p
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
	if cap(f.hdr.bytes) < n {
		f.hdr.bytes = make([]byte, 0, n)
	}
	h := f.hdr.bytes[:0]
	h = append(h, qname...)
	f.hdr.name = h[:len(qname):len(qname)]
	for i := range f.ns {
		x := &f.ns[i]
		s := len(h)
		h = append(h, x.prefix...)
		x.prefix = h[s:len(h):len(h)]
		s = len(h)
		h = append(h, x.uri...)
		x.uri = h[s:len(h):len(h)]
	}
	f.hdr.bytes = h
	f.hdr.nBindings = len(f.ns)
	f.hdr.defNS, _ = f.lookup(nil)
	if f.hdr.defNS == nil {
		f.hdr.defNS = h[:0]
	}
}

// startTag scans the start tag at b[p] ('<' and a name character seen),
// filling f.item.attrs. It returns the element's qualified name, its colon
// offset, the position after the tag and whether it was an empty-element
// tag. Cut inside an attribute value, it sets the wake pattern to the
// value's quote.
func (f *Framer) startTag(b []byte, p int) (qname []byte, colon, q int, empty bool, err error) {
	q, colon, err = scanName(b, p+1)
	if err != nil {
		return nil, colon, q, false, err
	}
	qname = b[p+1 : q]
	f.item.nattr = 0
	for {
		s := q
		q = skipSpace(b, q)
		if q >= len(b) {
			return qname, colon, q, false, errNeedMore
		}
		switch b[q] {
		case '>':
			return qname, colon, q + 1, false, nil
		case '/':
			if q+1 >= len(b) {
				return qname, colon, q, false, errNeedMore
			}
			if b[q+1] != '>' {
				return qname, colon, q, false, synErr(ErrMalformed, q, "expected /> in element")
			}
			return qname, colon, q + 2, true, nil
		}
		if q == s {
			return qname, colon, q, false, synErr(ErrMalformed, q, "missing white space before attribute")
		}
		if f.item.nattr == maxAttrs {
			return qname, colon, q, false, synErr(ErrStanzaTooLarge, q, fmt.Sprintf("more than %d attributes on one element", maxAttrs))
		}
		a := &f.item.attrs[f.item.nattr]
		n := q
		if q, a.colon, err = scanName(b, q); err != nil {
			return qname, colon, q, false, err
		}
		a.qname = b[n:q]
		q = skipSpace(b, q)
		if q >= len(b) {
			return qname, colon, q, false, errNeedMore
		}
		if b[q] != '=' {
			return qname, colon, q, false, synErr(ErrMalformed, q, "attribute "+string(a.qname)+" without a value")
		}
		q = skipSpace(b, q+1)
		if q >= len(b) {
			return qname, colon, q, false, errNeedMore
		}
		quote := b[q]
		if quote != '"' && quote != '\'' {
			return qname, colon, q, false, synErr(ErrMalformed, q, "unquoted attribute value")
		}
		q++
		var e int
		if e, a.dec, err = scanAttrValue(b, q, quote); err != nil {
			if err == errNeedMore {
				f.resume.wake, f.resume.wakeLen = [3]byte{quote}, 1
			}
			return qname, colon, q, false, err
		}
		a.val = b[q:e]
		a.uri = nil
		f.item.nattr++
		q = e + 1
	}
}

// openElement pushes the namespace declarations of the tag just scanned,
// checks its attributes and resolves the element's name. pos is the tag's
// position, for errors.
func (f *Framer) openElement(qname []byte, colon, pos int) (uri, local []byte, err error) {
	attrs := f.item.attrs[:f.item.nattr]
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
		v := f.item.attrValue(a)
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

// acc accumulates the decoded character data of one value of an item: a
// slice of the input while it is one run that needs no decoding, otherwise
// a range at the tail of itemState.scratch.
type acc struct {
	v    []byte
	set  bool
	tail int // len(scratch) right after v was last extended there, 0 when v is not in scratch
}

// addRaw appends a run that needs no decoding.
func (it *itemState) addRaw(a *acc, r []byte) {
	if len(a.v) == 0 {
		a.v, a.tail = r, 0
		return
	}
	it.toTail(a)
	it.scratch = append(it.scratch, r...)
	a.v = it.scratch[len(it.scratch)-len(a.v)-len(r):]
	a.tail = len(it.scratch)
}

// addDecoded appends a run (validated character data, CDATA content or an
// attribute value), decoding it.
func (it *itemState) addDecoded(a *acc, r []byte, mode uint8) {
	it.toTail(a)
	s := len(it.scratch) - len(a.v)
	it.scratch = appendDecoded(it.scratch, r, mode)
	a.v = it.scratch[s:]
	a.tail = len(it.scratch)
}

// toTail moves a's value to the tail of scratch, so that it can grow there.
func (it *itemState) toTail(a *acc) {
	if a.tail == len(it.scratch) && a.tail != 0 {
		return
	}
	s := len(it.scratch)
	it.scratch = append(it.scratch, a.v...)
	a.v = it.scratch[s:]
	a.tail = len(it.scratch)
}

// attrValue returns the decoded value of an attribute.
func (it *itemState) attrValue(a *attr) []byte {
	if !a.dec {
		return a.val
	}
	s := len(it.ascratch)
	it.ascratch = appendDecoded(it.ascratch, a.val, modeAttr)
	return it.ascratch[s:len(it.ascratch):len(it.ascratch)]
}

// complete fills in the Stanza's raw bytes, payload and text once the
// whole stanza, b[:n], is scanned.
func (it *itemState) complete(b []byte, n int) {
	it.st.Raw = b[:n]
	if it.gcm.set {
		it.st.HasGCM = true
		it.st.GCM = it.gcm.v
		if it.st.GCM == nil {
			it.st.GCM = b[:0]
		}
	}
	it.st.Text = it.text.v
	it.st.ErrorText = it.errText.v
}

// reset clears the item's state before a stanza or header is scanned; its
// buffers keep their capacity.
func (it *itemState) reset() {
	it.scratch = it.scratch[:0]
	it.ascratch = it.ascratch[:0]
	it.st = Stanza{}
	it.text, it.gcm, it.errText = acc{}, acc{}, acc{}
	it.topURI = nil
	it.isErr, it.errSeen = false, false
}

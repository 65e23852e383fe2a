package ccs

import (
	"bytes"
	"errors"
	"fmt"
)

// errNoElement is Tree's error for an item that is not an element.
var errNoElement = errors.New("ccs: the current item is not an element")

// Tree parses the current item into an Element tree (allocating), with
// the namespaces declared on the stream header in scope.
func (f *Framer) Tree() (*Element, error) {
	if f.err != nil {
		return nil, f.err
	}
	raw := f.item.st.Raw
	switch f.item.st.Kind {
	case KindStreamStart:
		raw = raw[f.hdr.off:]
	case KindNone, KindKeepalive, KindStreamEnd:
		return nil, errNoElement
	}
	defer func() { f.ns = f.ns[:f.hdr.nBindings] }()
	type open struct {
		e     *Element
		qname string
		nsTop int
		text  []byte
	}
	var stack []open
	fail := func(err error) (*Element, error) {
		return nil, fmt.Errorf("ccs: Tree: %w", err)
	}
	p := 0
	for p < len(raw) {
		if raw[p] != '<' {
			i, _, err := scanText(raw, p)
			if err != nil {
				return fail(err)
			}
			if len(stack) > 0 {
				top := &stack[len(stack)-1]
				top.text = appendDecoded(top.text, raw[p:i], modeText)
			}
			p = i
			continue
		}
		if p+1 >= len(raw) {
			return fail(synErr(ErrMalformed, p, "truncated item"))
		}
		switch raw[p+1] {
		case '/':
			qname, q, err := endTag(raw, p)
			if err != nil {
				return fail(err)
			}
			if len(stack) == 0 || stack[len(stack)-1].qname != string(qname) {
				return fail(synErr(ErrMalformed, p, "mismatched end tag"))
			}
			top := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			top.e.Text = string(top.text)
			f.ns = f.ns[:top.nsTop]
			p = q
			if len(stack) == 0 {
				return top.e, nil
			}
		case '!':
			if err := bang(raw, p); err != nil {
				return fail(err)
			}
			q := p + len("<![CDATA[")
			i := bytes.Index(raw[q:], []byte("]]>"))
			if i < 0 || len(stack) == 0 {
				return fail(synErr(ErrMalformed, p, "bad CDATA section"))
			}
			top := &stack[len(stack)-1]
			top.text = appendDecoded(top.text, raw[q:q+i], modeCDATA)
			p = q + i + 3
		default:
			qname, colon, q, empty, err := f.startTag(raw, p)
			if err != nil {
				return fail(err)
			}
			nsTop := len(f.ns)
			uri, local, err := f.openElement(qname, colon, p)
			if err != nil {
				return fail(err)
			}
			e := &Element{Space: string(uri), Local: string(local)}
			for i := 0; i < f.item.nattr; i++ {
				a := &f.item.attrs[i]
				if string(a.qname) == "xmlns" || a.colon == 5 && string(a.qname[:5]) == "xmlns" {
					continue
				}
				at := Attr{Local: string(a.qname[a.colon+1:]), Value: string(f.item.attrValue(a))}
				if a.colon >= 0 {
					at.Space = string(a.uri)
				}
				e.Attr = append(e.Attr, at)
			}
			if len(stack) > 0 {
				parent := stack[len(stack)-1].e
				parent.Children = append(parent.Children, e)
			}
			p = q
			if f.item.st.Kind == KindStreamStart || empty && len(stack) == 0 {
				return e, nil
			}
			if empty {
				f.ns = f.ns[:nsTop]
				continue
			}
			stack = append(stack, open{e: e, qname: string(qname), nsTop: nsTop})
		}
	}
	return fail(synErr(ErrMalformed, p, "truncated item"))
}

package ccs

import (
	"bytes"
	"errors"
	"io"
)

// FramerConfig limits what a Framer accepts. Zero values take defaults.
type FramerConfig struct {
	// MaxStanza is the largest stanza accepted, in bytes (default
	// DefaultMaxStanza). A larger one fails with ErrStanzaTooLarge as soon
	// as the limit is passed, without reading the rest.
	MaxStanza int
	// MaxDepth is the deepest element nesting accepted inside a stanza
	// (default DefaultMaxDepth).
	MaxDepth int
	// ReadSize is the size of each read from the underlying reader
	// (default 32 KiB).
	ReadSize int
}

// defaultReadSize is FramerConfig.ReadSize when zero.
const defaultReadSize = 32 << 10

// maxAttrs is the most attributes (namespace declarations included) one
// element may carry; more is refused as ErrStanzaTooLarge. It bounds the
// duplicate-attribute check and the framer's fixed attribute table.
const maxAttrs = 64

// maxEmptyReads is how many (0, nil) results of Read in a row the Framer
// tolerates before failing with io.ErrNoProgress.
const maxEmptyReads = 100

// Framer states.
const (
	stHeader uint8 = iota // expecting an XML declaration and a stream header
	stStream              // between stanzas
	stEnded               // after </stream:stream>
)

// Framer splits an XMPP byte stream into top-level items. It parses a whole
// read buffer before reading again, allocates nothing per stanza in steady
// state, and is not safe for concurrent use (one reader goroutine owns it).
//
// Every item is checked for well-formedness (XML 1.0 and Namespaces in XML:
// matched tags, names, attribute syntax without duplicates, declared
// prefixes, the five predefined entities and character references to legal
// characters, legal UTF-8 characters, CDATA sections, no "]]>" in text).
// Comments, processing instructions (other than the XML declaration),
// DOCTYPE and other markup declarations are refused anywhere with
// ErrRestricted, as RFC 6120 section 11.1 requires. Only white space may
// appear between stanzas. One element may carry at most 64 attributes.
//
// An incomplete item stays in the buffer; a stanza's scan resumes at the
// start of the token that was cut (a tag, a text run, a CDATA section)
// once bytes arrive that can end that token, other items are scanned again
// from their start. An item split across reads at any byte boundary parses
// the same as in one read. The buffer holds at most MaxStanza+ReadSize
// bytes, and is moved to make room only when a quarter or less is free.
type Framer struct {
	r                             io.Reader
	maxStanza, maxDepth, readSize int

	// The read buffer: the bytes read and not yet returned as items are
	// buf[start:end].
	buf        []byte // len(buf) == cap(buf)
	start, end int
	base       int64 // stream offset of buf[0]
	empty      int   // consecutive empty reads
	state      uint8
	err        error // sticky syntax error
	rerr       error // reader error, reported once the buffered bytes are used up

	resume resumeState

	// ns holds the namespace bindings in scope: the stream header's
	// (hdr.nBindings of them), then those of the current stanza's open
	// elements.
	ns   []nsBinding
	hdr  streamHeader
	item itemState
}

// streamHeader is what the Framer keeps of the stream header, in storage
// of its own: its bindings stay in scope for every stanza and its name
// must match the stream's end tag.
type streamHeader struct {
	bytes     []byte // the copy of the header's name and bindings
	name      []byte // the header's qualified name (in bytes)
	defNS     []byte // the default namespace it declares (in bytes; empty when none)
	nBindings int    // namespace bindings it declares: the first of Framer.ns
	off       int    // offset of its start tag in the KindStreamStart item
}

// itemState is the state of the item being scanned, cleared at the start
// of each (Framer.resetItem) and kept when a stanza's scan is cut, so that
// it resumes.
type itemState struct {
	st                 Stanza
	scratch            []byte      // decoded character data of the item
	ascratch           []byte      // decoded attribute values of the item
	stack              []elemFrame // open elements of the stanza, len maxDepth
	text, gcm, errText acc         // character data for Stanza.Text, GCM and ErrorText
	topURI             []byte      // namespace of the top-level element
	isErr, errSeen     bool        // a stanza of type "error", and its <error> child seen
	nattr              int
	attrs              [maxAttrs]attr // attributes of the tag being parsed
}

// resumeState says where the scan of an item cut by the end of the
// buffered bytes resumes, and when it is worth scanning again.
type resumeState struct {
	blocked  bool    // the item cannot get further until wake arrives (see mayProgress)
	scanned  int     // length of the item at its last scan
	wake     [3]byte // what must arrive before the cut token can end ('>', a quote, '<' or "]]>")
	wakeLen  int
	valid    bool // a stanza's scan resumes at its checkpoint:
	p, depth int  // the start of the token that was cut, and the depth there
}

// elemFrame is one open element of the current stanza.
type elemFrame struct {
	qname []byte // as written, to match the end tag
	nsTop int    // len(Framer.ns) before the element's declarations
	role  uint8  // what its character data or children feed
}

// Element roles.
const (
	roleNone    uint8 = iota
	roleGCM           // the first <gcm xmlns="google:mobile:data"> of a message
	roleError         // the <error> child of a type="error" stanza
	roleErrText       // the <text> holding ErrorText
)

// nsBinding is one namespace declaration in scope; an empty prefix is the
// default namespace.
type nsBinding struct{ prefix, uri []byte }

// attr is one attribute of the tag being parsed.
type attr struct {
	qname []byte // as written
	colon int    // index of ':' in qname, or -1
	val   []byte // raw value between the quotes
	dec   bool   // val contains a reference or white space to normalise
	uri   []byte // namespace of a prefixed attribute, once resolved
}

// NewFramer returns a Framer reading from r. It expects a stream header
// (optionally after an XML declaration) first.
func NewFramer(r io.Reader, cfg FramerConfig) *Framer {
	f := &Framer{r: r, maxStanza: cfg.MaxStanza, maxDepth: cfg.MaxDepth, readSize: cfg.ReadSize}
	if f.maxStanza <= 0 {
		f.maxStanza = DefaultMaxStanza
	}
	if f.maxDepth <= 0 {
		f.maxDepth = DefaultMaxDepth
	}
	if f.readSize <= 0 {
		f.readSize = defaultReadSize
	}
	f.item.stack = make([]elemFrame, f.maxDepth)
	f.ns = make([]nsBinding, 0, 8)
	f.item.scratch = make([]byte, 0, 256)
	return f
}

// Reset makes f read a new stream from r, exactly as a Framer made by
// NewFramer with f's configuration would, but keeps f's buffers and
// tables: a server or client that opens connection after connection
// reuses one Framer per connection instead of allocating it anew. A read
// buffer that grew past ReadSize for a large stanza is dropped rather than
// kept. Nothing returned by f before the Reset may be used after it.
func (f *Framer) Reset(r io.Reader) {
	buf := f.buf
	if len(buf) > f.readSize {
		buf = nil
	}
	clear(f.item.stack)
	clear(f.ns[:cap(f.ns)])
	*f = Framer{
		r: r, maxStanza: f.maxStanza, maxDepth: f.maxDepth, readSize: f.readSize,
		buf: buf, ns: f.ns[:0],
		hdr:  streamHeader{bytes: f.hdr.bytes[:0]},
		item: itemState{stack: f.item.stack, scratch: f.item.scratch[:0], ascratch: f.item.ascratch[:0]},
	}
}

// SetReader makes f read from r from now on, keeping what it has
// buffered and its place in the stream (Reset starts a new stream): a
// client can put a layer between the Framer and its connection once the
// handshake is done, such as one that does work before every read that
// may block.
func (f *Framer) SetReader(r io.Reader) { f.r = r }

// errNeedMore is the internal signal that the buffered bytes end inside an
// item.
var errNeedMore = errors.New("ccs: need more input")

// Next returns the next top-level item. The returned *Stanza is owned by
// the Framer and overwritten by the next call. Errors: a *SyntaxError for
// bad input (then the stream is unusable), io.EOF when the stream ends
// cleanly between items, io.ErrUnexpectedEOF inside one, or the reader's
// error.
func (f *Framer) Next() (*Stanza, error) {
	if f.err != nil {
		return nil, f.err
	}
	if f.state == stEnded {
		return nil, io.EOF
	}
	for {
		if f.start < f.end && !f.resume.blocked {
			n, err := f.scanItem(f.buf[f.start:f.end])
			if err == nil {
				f.start += n
				f.resume.valid = false
				return &f.item.st, nil
			}
			if err != errNeedMore {
				return nil, f.fail(err)
			}
			f.resume.blocked = true
			f.resume.scanned = f.end - f.start
		}
		if f.end-f.start > f.maxStanza {
			return nil, f.fail(&SyntaxError{Err: ErrStanzaTooLarge, Offset: int64(f.maxStanza),
				Detail: "item longer than the size limit"})
		}
		if err := f.rerr; err != nil {
			f.rerr = nil
			if err == io.EOF && f.start < f.end {
				return nil, io.ErrUnexpectedEOF
			}
			return nil, err
		}
		f.fill()
	}
}

// fail records a syntax error found in the current item, making its offset
// absolute, and returns it.
func (f *Framer) fail(err error) error {
	if se, ok := err.(*SyntaxError); ok {
		se.Offset += f.base + int64(f.start)
	}
	f.err = err
	return err
}

// fill makes room at the end of the buffer if little is left, and reads
// once.
func (f *Framer) fill() {
	if f.start == f.end {
		f.base += int64(f.start)
		f.start, f.end = 0, 0
	}
	if f.buf == nil || len(f.buf)-f.end < len(f.buf)/4+1 {
		if f.start > 0 {
			f.base += int64(f.start)
			f.end = copy(f.buf, f.buf[f.start:f.end])
			f.start = 0
			f.resume.valid = false // the checkpoint's slices would see other bytes
		}
		if limit := f.maxStanza + f.readSize; f.buf == nil || f.end > len(f.buf)/2 && len(f.buf) < limit {
			// A new array: slices into the old one keep seeing the same
			// bytes, so a checkpoint stays valid.
			nb := make([]byte, min(max(2*len(f.buf), f.readSize), limit))
			copy(nb, f.buf[:f.end])
			f.buf = nb
		}
	}
	n, err := f.r.Read(f.buf[f.end:])
	if n < 0 || n > len(f.buf)-f.end {
		n, err = 0, errors.New("ccs: reader returned an invalid count")
	}
	if n > 0 {
		if f.resume.blocked && f.mayProgress(f.end+n) {
			f.resume.blocked = false
		}
		f.end += n
		f.empty = 0
	} else if err == nil {
		if f.empty++; f.empty >= maxEmptyReads {
			err = io.ErrNoProgress
		}
	}
	if err != nil {
		f.rerr = err
		if err == io.EOF {
			// Whatever is buffered is all there will be: scan it once more
			// so that a syntax error wins over io.ErrUnexpectedEOF.
			f.resume.blocked = false
		}
	}
}

// mayProgress reports whether the bytes just read into f.buf[f.end:end]
// can let the last scan of the partial item get further. That scan stopped
// in a token that can only end with the wake pattern (a '>' for markup,
// the quote for an attribute value, '<' for character data, "]]>" for a
// CDATA section), so the item is scanned again only when that pattern
// arrives. With the checkpoint, a stanza dripping in one byte per read
// costs time linear in its length.
func (f *Framer) mayProgress(end int) bool {
	pat := f.resume.wake[:f.resume.wakeLen]
	from := max(f.end-(len(pat)-1), f.start+f.resume.scanned-(len(pat)-1), f.start)
	return bytes.Contains(f.buf[from:end], pat)
}

// Buffered returns the number of bytes already read but not yet returned
// as items. They may be part of an item only: Next can block in a read
// while Buffered() > 0. A caller that must act before Next blocks reads
// through a layer of its own (see SetReader).
func (f *Framer) Buffered() int {
	if f.state == stEnded || f.err != nil {
		return 0
	}
	return f.end - f.start
}

// Restart makes the Framer expect a new stream header (after SASL success),
// keeping any bytes already buffered.
func (f *Framer) Restart() {
	if f.err != nil {
		return
	}
	f.state = stHeader
	f.resume.blocked = false
	f.resume.valid = false
}

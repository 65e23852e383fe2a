package ccs

import (
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

// Framer splits an XMPP byte stream into top-level items. It parses a whole
// read buffer before reading again, allocates nothing per stanza in steady
// state, and is not safe for concurrent use (one reader goroutine owns it).
type Framer struct {
	r   io.Reader
	cfg FramerConfig
}

// NewFramer returns a Framer reading from r. It expects a stream header
// (optionally after an XML declaration) first.
func NewFramer(r io.Reader, cfg FramerConfig) *Framer {
	return &Framer{r: r, cfg: cfg}
}

var errNotYet = errors.New("ccs: framer not implemented yet")

// Next returns the next top-level item. The returned *Stanza is owned by
// the Framer and overwritten by the next call. Errors: a *SyntaxError for
// bad input (then the stream is unusable), io.EOF when the stream ends
// cleanly between items, io.ErrUnexpectedEOF inside one, or the reader's
// error.
func (f *Framer) Next() (*Stanza, error) { return nil, errNotYet }

// Buffered returns the number of bytes already read but not yet returned
// as items. A writer that flushes "only when nothing more is ready"
// flushes when Buffered() == 0, before Next blocks in a read.
func (f *Framer) Buffered() int { return 0 }

// Restart makes the Framer expect a new stream header (after SASL success),
// keeping any bytes already buffered.
func (f *Framer) Restart() {}

// Tree parses the current item into an Element tree (allocating), with
// the namespaces declared on the stream header in scope.
func (f *Framer) Tree() (*Element, error) { return nil, errNotYet }

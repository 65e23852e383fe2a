package ccs

// Kind classifies one top-level item of a stream, as returned by Framer.Next.
type Kind uint8

// The kinds of top-level items. Elements are classified by namespace URI
// and local name, never by prefix.
const (
	KindNone        Kind = iota
	KindStreamStart      // the <stream:stream ...> open tag (and any XML declaration before it)
	KindStreamEnd        // </stream:stream>
	KindKeepalive        // whitespace between stanzas (a run of it is one item)
	KindMessage          // <message> in the stream's default namespace
	KindIQ               // <iq>
	KindPresence         // <presence>
	KindStreamError      // <stream:error>
	KindFeatures         // <stream:features>
	KindAuth             // SASL <auth>
	KindSuccess          // SASL <success>
	KindFailure          // SASL <failure>
	KindOther            // any other element at stanza level
)

var kindNames = [...]string{"none", "stream-start", "stream-end", "keepalive", "message", "iq",
	"presence", "stream-error", "features", "auth", "success", "failure", "other"}

// String names the kind.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "invalid"
}

// Stanza is one top-level item of a stream. Every byte slice in it points
// into the Framer's buffers and is valid only until the next call to Next;
// copy what must outlive it.
type Stanza struct {
	Kind Kind

	// Raw is the exact bytes of the item as read (for a stanza, from its
	// '<' to the end of its closing tag).
	Raw []byte

	// Attributes of the top-level element, entity-decoded. Nil when absent.
	ID, Type, To, From []byte

	// GCM is the decoded character data (entities, character references
	// and CDATA resolved) of the first child element <gcm> in namespace
	// google:mobile:data, for message stanzas; HasGCM reports whether
	// such a child was present (GCM may be empty while HasGCM is true).
	// Text inside elements nested in <gcm> is not part of GCM.
	GCM    []byte
	HasGCM bool

	// Child is the local name and namespace of the first child element of
	// the top-level element (for an iq: bind, session, ping, query...; for
	// a SASL failure: the condition; for a stream error: the condition).
	Child, ChildSpace []byte

	// ErrorCondition and ErrorText describe a stanza error: for a message
	// or iq of type "error", the first element in namespace
	// urn:ietf:params:xml:ns:xmpp-stanzas inside its <error> child and that
	// error's <text>; for a <stream:error>, the condition element in
	// urn:ietf:params:xml:ns:xmpp-streams and its <text>. ErrorCode is the
	// legacy code attribute of <error> ("400"), if any.
	ErrorCondition, ErrorText, ErrorCode []byte

	// Text is the decoded character data directly inside the top-level
	// element (the base64 of a SASL <auth>, for instance).
	Text []byte
}

// Element is a small, allocating tree of one stanza, for the rare paths
// (handshake, IQs) that need more than Stanza offers.
type Element struct {
	Space, Local string // namespace URI and local name
	Attr         []Attr
	Text         string // decoded character data directly inside, concatenated
	Children     []*Element
}

// Attr is one attribute of an Element, namespace-resolved.
type Attr struct {
	Space, Local, Value string
}

// Child returns the first child with that namespace and local name, or nil.
func (e *Element) Child(space, local string) *Element {
	if e == nil {
		return nil
	}
	for _, c := range e.Children {
		if c.Local == local && c.Space == space {
			return c
		}
	}
	return nil
}

// AttrValue returns the value of the un-namespaced attribute local, or "".
func (e *Element) AttrValue(local string) string {
	if e == nil {
		return ""
	}
	for _, a := range e.Attr {
		if a.Local == local && a.Space == "" {
			return a.Value
		}
	}
	return ""
}

package ccs

// XML namespaces and names used on a CCS stream. Elements are always matched
// by namespace URI, never by prefix.
const (
	// NSClient is the default namespace of a client stream.
	NSClient = "jabber:client"
	// NSStream is the namespace of <stream:stream>, <stream:features> and <stream:error>.
	NSStream = "http://etherx.jabber.org/streams"
	// NSSASL is the namespace of SASL negotiation elements.
	NSSASL = "urn:ietf:params:xml:ns:xmpp-sasl"
	// NSBind is the namespace of resource binding.
	NSBind = "urn:ietf:params:xml:ns:xmpp-bind"
	// NSSession is the namespace of the (optional) session establishment IQ.
	NSSession = "urn:ietf:params:xml:ns:xmpp-session"
	// NSStanzas is the namespace of stanza error conditions.
	NSStanzas = "urn:ietf:params:xml:ns:xmpp-stanzas"
	// NSStreams is the namespace of stream error conditions.
	NSStreams = "urn:ietf:params:xml:ns:xmpp-streams"
	// NSGCM is the namespace of the <gcm> payload element.
	NSGCM = "google:mobile:data"
	// NSPing is the namespace of XEP-0199 pings.
	NSPing = "urn:xmpp:ping"

	// Domain is the XMPP domain of CCS, used in the stream header and in
	// SASL identities whatever host is dialled.
	Domain = "gcm.googleapis.com"
	// FCMDomain is the domain FCM-era clients log in to instead (they dial
	// fcm-xmpp.googleapis.com); a CCS server accepts both.
	FCMDomain = "fcm.googleapis.com"
	// DevicesJID is the JID upstream messages come from.
	DevicesJID = "devices@gcm.googleapis.com"
)

// Protocol limits.
const (
	// MaxPending is the protocol's limit of unanswered downstream messages
	// per connection.
	MaxPending = 100
	// DefaultMaxStanza is the default limit of one stanza's size in bytes.
	DefaultMaxStanza = 64 << 10
	// DefaultMaxDepth is the default limit of element nesting inside a stanza.
	DefaultMaxDepth = 32
)

package badccs

import (
	"crypto/tls"
	"encoding/base64"
	"io"
	"net"
	"strings"

	"github.com/ccsbench/ccsbench/ccs"
)

// The handshake of a standard XMPP server, as Prosody 0.12 answered a
// client on its direct TLS port: an XML declaration and xml:lang on its
// stream headers, single-quoted attributes, SCRAM mechanisms offered
// before PLAIN, and after authentication stream features CCS never sent
// (roster versioning, entity capabilities, pre-approval, a bind feature
// that says it is required, an optional session).
const (
	xmppHeader = "<?xml version='1.0'?><stream:stream xmlns='jabber:client' xml:lang='en' from='gcm.googleapis.com' " +
		"version='1.0' id='0615f4b9-5595-4622-b91e-cfcd4df12b43' xmlns:stream='" + ccs.NSStream + "'>"
	xmppFeaturesSASL = "<stream:features><mechanisms xmlns='" + ccs.NSSASL + "'><mechanism>SCRAM-SHA-256</mechanism>" +
		"<mechanism>SCRAM-SHA-1</mechanism><mechanism>PLAIN</mechanism></mechanisms></stream:features>"
	xmppFeaturesStartTLS = "<stream:features><starttls xmlns='" + ccs.NSTLS + "'><required/></starttls></stream:features>"
	xmppFeaturesBind     = "<stream:features><sub xmlns='urn:xmpp:features:pre-approval'/>" +
		"<c xmlns='http://jabber.org/protocol/caps' node='http://prosody.im' ver='wBr6DNC6Vxj+iDPS/AmhkECMTr8=' hash='sha-1'/>" +
		"<ver xmlns='urn:xmpp:features:rosterver'/><bind xmlns='" + ccs.NSBind + "'><required/></bind>" +
		"<session xmlns='" + ccs.NSSession + "'><optional/></session></stream:features>"
)

// The handshake of ejabberd 23.01 (Debian) on its direct TLS port
// ("tls: true"): the same XML declaration and xml:lang as Prosody but a
// numeric stream id, DIGEST-MD5 and PLAIN offered before the SCRAM
// mechanisms, and after authentication only bind (not marked required)
// and an optional session.
const (
	ejabberdHeader = "<?xml version='1.0'?><stream:stream id='13346703100940966966' version='1.0' xml:lang='en' " +
		"xmlns:stream='" + ccs.NSStream + "' from='gcm.googleapis.com' xmlns='jabber:client'>"
	ejabberdFeaturesSASL = "<stream:features><mechanisms xmlns='" + ccs.NSSASL + "'><mechanism>DIGEST-MD5</mechanism>" +
		"<mechanism>PLAIN</mechanism><mechanism>SCRAM-SHA-512-PLUS</mechanism><mechanism>SCRAM-SHA-512</mechanism>" +
		"<mechanism>SCRAM-SHA-256</mechanism><mechanism>SCRAM-SHA-1</mechanism><mechanism>X-OAUTH2</mechanism></mechanisms></stream:features>"
	ejabberdFeaturesBind = "<stream:features><bind xmlns='" + ccs.NSBind + "'/><session xmlns='" + ccs.NSSession +
		"'><optional/></session></stream:features>"
)

// serveXMPP plays the handshake of a standard XMPP server (see
// Options.XMPP) and then runs Serve on the bound connection.
func (s *Server) serveXMPP(c, raw net.Conn) {
	f := ccs.NewFramer(c, ccs.FramerConfig{})
	st, err := f.Next()
	if err != nil || st.Kind != ccs.KindStreamStart {
		return
	}
	if to := string(st.To); s.opts.Ejabberd && to != "gcm.googleapis.com" {
		// ejabberd answers a stream to a host it does not serve with
		// host-unknown, without a text.
		io.WriteString(c, strings.Replace(ejabberdHeader, "from='gcm.googleapis.com'", "from='"+to+"'", 1)+
			"<stream:error><host-unknown xmlns='"+ccs.NSStreams+"'/></stream:error></stream:stream>")
		return
	}
	header, features, bound, jid := xmppHeader, xmppFeaturesSASL, xmppFeaturesBind, s.opts.SenderID+"@gcm.googleapis.com/opZLdvsVkbPJ"
	refused := "<failure xmlns='" + ccs.NSSASL + "'><not-authorized/><text>Invalid username or password.</text></failure>"
	if s.opts.Ejabberd {
		header, features, bound, jid = ejabberdHeader, ejabberdFeaturesSASL, ejabberdFeaturesBind, s.opts.SenderID+"@gcm.googleapis.com/63173713677336823601266"
		refused = "<failure xmlns='" + ccs.NSSASL + "'><not-authorized/><text xml:lang='en'>Invalid username or password</text></failure>"
	}
	if _, err := io.WriteString(c, header+features); err != nil {
		return
	}
	for authed := false; !authed; {
		st, err := f.Next()
		if err != nil || st.Kind != ccs.KindAuth {
			return
		}
		reply := "<success xmlns='" + ccs.NSSASL + "'/>"
		id, pw := plainCreds(string(st.Text))
		if s.opts.Ejabberd && id == s.opts.SenderID+"@gcm.googleapis.com" {
			// ejabberd takes a full JID of a host it serves as the
			// user name.
			id = s.opts.SenderID
		}
		switch {
		case strings.Contains(id, "@"):
			// A standard server takes the authentication identity as a
			// user name, which cannot hold an "@"; the stream stays
			// open for another attempt.
			reply = "<failure xmlns='" + ccs.NSSASL + "'><malformed-request/><text>Invalid username or password.</text></failure>"
		case id != s.opts.SenderID || pw != s.opts.APIKey:
			reply = refused
		default:
			authed = true
		}
		if _, err := io.WriteString(c, reply); err != nil {
			return
		}
	}
	f.Restart()
	if st, err := f.Next(); err != nil || st.Kind != ccs.KindStreamStart {
		return
	}
	if _, err := io.WriteString(c, header+bound); err != nil {
		return
	}
	st, err = f.Next()
	if err != nil || st.Kind != ccs.KindIQ {
		return
	}
	reply := ccs.AppendAttrEscaped([]byte("<iq type='result' id=\""), st.ID)
	reply = append(reply, "\"><bind xmlns='"+ccs.NSBind+"'><jid>"+jid+"</jid></bind></iq>"...)
	if _, err := c.Write(reply); err != nil {
		return
	}
	s.bound.Add(1)
	s.opts.Serve(&Conn{Conn: c, Raw: raw, Framer: f, JID: jid})
}

// startTLS plays an XMPP server's STARTTLS negotiation on raw (see
// Options.StartTLS) and returns the TLS connection, or false when the
// connection is done.
func (s *Server) startTLS(raw net.Conn) (net.Conn, bool) {
	f := ccs.NewFramer(raw, ccs.FramerConfig{})
	if st, err := f.Next(); err != nil || st.Kind != ccs.KindStreamStart {
		// A TLS ClientHello, say: answered as XMPP servers answer it.
		io.WriteString(raw, xmppHeader+string(ccs.AppendStreamError(nil, "not-well-formed", "")))
		return nil, false
	}
	header := xmppHeader
	if s.opts.Ejabberd {
		header = ejabberdHeader
	}
	if _, err := io.WriteString(raw, header+xmppFeaturesStartTLS); err != nil {
		return nil, false
	}
	if st, err := f.Next(); err != nil || st.Kind != ccs.KindOther {
		return nil, false
	}
	if e, err := f.Tree(); err != nil || e.Space != ccs.NSTLS || e.Local != "starttls" {
		return nil, false
	}
	if s.opts.StartTLSFailure {
		io.WriteString(raw, "<failure xmlns='"+ccs.NSTLS+"'/></stream:stream>")
		return nil, false
	}
	if f.Buffered() > 0 {
		return nil, false // bytes before TLS started
	}
	if _, err := io.WriteString(raw, "<proceed xmlns='"+ccs.NSTLS+"'/>"); err != nil {
		return nil, false
	}
	tc := tls.Server(raw, s.tls)
	if err := tc.Handshake(); err != nil {
		return nil, false
	}
	return tc, true
}

// plainCreds decodes a SASL PLAIN message into its authentication
// identity and password ("" when it is not one).
func plainCreds(b64 string) (identity, password string) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimSpace(b64))
	if err != nil {
		return "", ""
	}
	parts := strings.Split(string(raw), "\x00")
	if len(parts) != 3 {
		return "", ""
	}
	return parts[1], parts[2]
}

// Bounce answers every message as a standard XMPP server answers a
// message to its own user that it cannot deliver: a stanza error
// (service-unavailable) with the message's id and no payload, so naming
// no CCS message.
func Bounce(c *Conn) {
	Each(func(c *Conn, _ int, _ string) bool {
		_, err := c.Write([]byte("<message id='' to='" + c.JID + "' type='error'><error type='cancel'>" +
			"<service-unavailable xmlns='" + ccs.NSStanzas + "'/></error></message>"))
		return err == nil
	})(c)
}

// BounceEcho answers every message as ejabberd 23.01 answered a message
// to its own user's bare JID (the address of a CCS message, which has no
// "to") while the user had no available resource: a stanza error from
// the bare JID, service-unavailable with the text "User session not
// found", that keeps the message's gcm element, so naming the message by
// its message_id (and the stanza id only when one was set).
func BounceEcho(c *Conn) {
	bare, _, _ := strings.Cut(c.JID, "/")
	var b []byte
	Each(func(c *Conn, _ int, _ string) bool {
		b = append(b[:0], "<message xml:lang='en' to='"+c.JID+"' from='"+bare+"' type='error'><gcm xmlns='"+ccs.NSGCM+"'>"...)
		b = ccs.AppendAttrEscaped(b, c.Payload())
		b = append(b, "</gcm><error type='cancel'><service-unavailable xmlns='"+ccs.NSStanzas+"'/>"+
			"<text xml:lang='en' xmlns='"+ccs.NSStanzas+"'>User session not found</text></error></message>"...)
		_, err := c.Write(b)
		return err == nil
	})(c)
}

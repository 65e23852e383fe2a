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

// serveXMPP plays the handshake of a standard XMPP server (see
// Options.XMPP) and then runs Serve on the bound connection.
func (s *Server) serveXMPP(c, raw net.Conn) {
	f := ccs.NewFramer(c, ccs.FramerConfig{})
	if st, err := f.Next(); err != nil || st.Kind != ccs.KindStreamStart {
		return
	}
	if _, err := io.WriteString(c, xmppHeader+xmppFeaturesSASL); err != nil {
		return
	}
	for authed := false; !authed; {
		st, err := f.Next()
		if err != nil || st.Kind != ccs.KindAuth {
			return
		}
		reply := "<success xmlns='" + ccs.NSSASL + "'/>"
		switch id, pw := plainCreds(string(st.Text)); {
		case strings.Contains(id, "@"):
			// A standard server takes the authentication identity as a
			// user name, which cannot hold an "@"; the stream stays
			// open for another attempt.
			reply = "<failure xmlns='" + ccs.NSSASL + "'><malformed-request/><text>Invalid username or password.</text></failure>"
		case id != s.opts.SenderID || pw != s.opts.APIKey:
			reply = "<failure xmlns='" + ccs.NSSASL + "'><not-authorized/><text>Invalid username or password.</text></failure>"
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
	if _, err := io.WriteString(c, xmppHeader+xmppFeaturesBind); err != nil {
		return
	}
	st, err := f.Next()
	if err != nil || st.Kind != ccs.KindIQ {
		return
	}
	jid := s.opts.SenderID + "@gcm.googleapis.com/opZLdvsVkbPJ"
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
	if _, err := io.WriteString(raw, xmppHeader+xmppFeaturesStartTLS); err != nil {
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

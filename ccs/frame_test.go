package ccs

import (
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// testHeader is a server's stream header as CCS sends it, with an XML
// declaration.
const testHeader = `<?xml version='1.0'?><stream:stream from="gcm.googleapis.com" id="11B9885B7CAD20E3" version="1.0" xmlns:stream="http://etherx.jabber.org/streams" xmlns="jabber:client">`

const testEnd = `</stream:stream>`

// item is a comparable copy of a Stanza. A nil field is "", a present but
// empty one is "∅".
type item struct {
	Kind                                       Kind
	Raw, ID, Type, To, From, GCM               string
	HasGCM                                     bool
	Child, ChildSpace                          string
	ErrorCondition, ErrorText, ErrorCode, Text string
}

func str(b []byte) string {
	if b == nil {
		return ""
	}
	if len(b) == 0 {
		return "∅"
	}
	return string(b)
}

func toItem(st *Stanza) item {
	return item{
		Kind: st.Kind, Raw: str(st.Raw), ID: str(st.ID), Type: str(st.Type), To: str(st.To), From: str(st.From),
		GCM: str(st.GCM), HasGCM: st.HasGCM, Child: str(st.Child), ChildSpace: str(st.ChildSpace),
		ErrorCondition: str(st.ErrorCondition), ErrorText: str(st.ErrorText), ErrorCode: str(st.ErrorCode),
		Text: str(st.Text),
	}
}

// frameAll reads every item from r until an error, which it returns
// (io.EOF after a clean end).
func frameAll(r io.Reader, cfg FramerConfig) ([]item, error) {
	f := NewFramer(r, cfg)
	var items []item
	for {
		st, err := f.Next()
		if err != nil {
			return items, err
		}
		items = append(items, toItem(st))
	}
}

// mergeKeepalives joins runs of keepalive items, whose boundaries depend on
// how the input was split into reads.
func mergeKeepalives(items []item) []item {
	var out []item
	for _, it := range items {
		if n := len(out); n > 0 && it.Kind == KindKeepalive && out[n-1].Kind == KindKeepalive {
			out[n-1].Raw += it.Raw
			continue
		}
		out = append(out, it)
	}
	return out
}

// stanzaCases are the stanza shapes of CCS (docs/PROTOCOL.md), and
// the XML features a framer must handle in them. want.Raw is the stanza.
var stanzaCases = []struct {
	name   string
	stanza string
	want   item
}{
	{"downstream",
		`<message id=""><gcm xmlns="google:mobile:data">{"to":"REGISTRATION_ID","message_id":"m-1366082849205","data":{"hello":"world"},"time_to_live":600,"delay_while_idle":true}</gcm></message>`,
		item{Kind: KindMessage, ID: "∅", HasGCM: true, Child: "gcm", ChildSpace: NSGCM,
			GCM: `{"to":"REGISTRATION_ID","message_id":"m-1366082849205","data":{"hello":"world"},"time_to_live":600,"delay_while_idle":true}`}},
	{"ack",
		`<message><gcm xmlns="google:mobile:data">{"from":"REGID","message_id":"m-1","message_type":"ack"}</gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM,
			GCM: `{"from":"REGID","message_id":"m-1","message_type":"ack"}`}},
	{"ack with registration_id",
		`<message id="x1"><data:gcm xmlns:data="google:mobile:data">{"from":"REGID","message_id":"m-1","message_type":"ack","registration_id":"CANONICAL"}</data:gcm></message>`,
		item{Kind: KindMessage, ID: "x1", HasGCM: true, Child: "gcm", ChildSpace: NSGCM,
			GCM: `{"from":"REGID","message_id":"m-1","message_type":"ack","registration_id":"CANONICAL"}`}},
	{"nack bad registration, prefixed, indented",
		"<message>\n  <data:gcm xmlns:data=\"google:mobile:data\">\n  {\n    \"error\":\"BAD_REGISTRATION\",\n    \"message_id\":\"msgId1\",\n    \"from\":\"PA91bHFOtaQGSwupt5l1og\",\n    \"message_type\":\"nack\"\n  }\n  </data:gcm>\n</message>",
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, Text: "\n  \n",
			GCM: "\n  {\n    \"error\":\"BAD_REGISTRATION\",\n    \"message_id\":\"msgId1\",\n    \"from\":\"PA91bHFOtaQGSwupt5l1og\",\n    \"message_type\":\"nack\"\n  }\n  "}},
	{"nack INVALID_TTL",
		`<message><data:gcm xmlns:data="google:mobile:data">{"error":"InvalidJson : INVALID_TTL : Invalid value (-1) for \"time_to_live\": must be between 0 and \"2419200\"\n","message_id":"msgId1","from":"APA91bHFOtaQGSwupt5l1og","message_type":"nack"}</data:gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM,
			GCM: `{"error":"InvalidJson : INVALID_TTL : Invalid value (-1) for \"time_to_live\": must be between 0 and \"2419200\"\n","message_id":"msgId1","from":"APA91bHFOtaQGSwupt5l1og","message_type":"nack"}`}},
	{"nack JSON_TYPE_ERROR",
		`<message><data:gcm xmlns:data="google:mobile:data">{"error":"InvalidJson : JSON_TYPE_ERROR : Field \"delay_while_idle\" must be a JSON java.lang.Boolean: not-boolean-user-supplied-value\n","message_id":"msgId1","from":"APA91bHFOtaQGSwupt5l1og","message_type":"nack"}</data:gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM,
			GCM: `{"error":"InvalidJson : JSON_TYPE_ERROR : Field \"delay_while_idle\" must be a JSON java.lang.Boolean: not-boolean-user-supplied-value\n","message_id":"msgId1","from":"APA91bHFOtaQGSwupt5l1og","message_type":"nack"}`}},
	{"stanza error echoing the payload",
		"<message id=\"3\" type=\"error\" to=\"123456789@gcm.googleapis.com/ABC\">\n  <gcm xmlns=\"google:mobile:data\">\n     {\"random\": \"text\"}\n  </gcm>\n  <error code=\"400\" type=\"modify\">\n    <bad-request xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\"/>\n    <text xmlns=\"urn:ietf:params:xml:ns:xmpp-stanzas\">\n      InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id\\n\n    </text>\n  </error>\n</message>",
		item{Kind: KindMessage, ID: "3", Type: "error", To: "123456789@gcm.googleapis.com/ABC", HasGCM: true,
			GCM: "\n     {\"random\": \"text\"}\n  ", Child: "gcm", ChildSpace: NSGCM,
			ErrorCondition: "bad-request", ErrorCode: "400", Text: "\n  \n  \n",
			ErrorText: "\n      InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id\\n\n    "}},
	{"control CONNECTION_DRAINING",
		`<message><data:gcm xmlns:data="google:mobile:data">{"message_type":"control","control_type":"CONNECTION_DRAINING"}</data:gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM,
			GCM: `{"message_type":"control","control_type":"CONNECTION_DRAINING"}`}},
	{"upstream",
		`<message to="SENDER@gcm.googleapis.com" from="devices@gcm.googleapis.com" type="normal"><gcm xmlns="google:mobile:data">{"category":"com.example.app","data":{"hello":"world"},"message_id":"m-123","from":"REGID","time_to_live":10}</gcm></message>`,
		item{Kind: KindMessage, To: "SENDER@gcm.googleapis.com", From: "devices@gcm.googleapis.com", Type: "normal",
			HasGCM: true, Child: "gcm", ChildSpace: NSGCM,
			GCM: `{"category":"com.example.app","data":{"hello":"world"},"message_id":"m-123","from":"REGID","time_to_live":10}`}},
	{"receipt",
		`<message to="SENDER@gcm.googleapis.com" from="gcm.googleapis.com" type="normal"><gcm xmlns="google:mobile:data">{"category":"com.example.app","data":{"device_registration_id":"REGID","message_sent_timestamp":"1498801519251","message_status":"MESSAGE_SENT_TO_DEVICE","original_message_id":"39"},"from":"gcm.googleapis.com","message_id":"dr2:39","message_type":"receipt","time_to_live":0}</gcm></message>`,
		item{Kind: KindMessage, To: "SENDER@gcm.googleapis.com", From: "gcm.googleapis.com", Type: "normal",
			HasGCM: true, Child: "gcm", ChildSpace: NSGCM,
			GCM: `{"category":"com.example.app","data":{"device_registration_id":"REGID","message_sent_timestamp":"1498801519251","message_status":"MESSAGE_SENT_TO_DEVICE","original_message_id":"39"},"from":"gcm.googleapis.com","message_id":"dr2:39","message_type":"receipt","time_to_live":0}`}},
	{"features with another stream prefix",
		"<str:features xmlns:str=\"http://etherx.jabber.org/streams\">\n <mechanisms xmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\">\n   <mechanism>X-OAUTH2</mechanism>\n   <mechanism>X-GOOGLE-TOKEN</mechanism>\n   <mechanism>PLAIN</mechanism>\n </mechanisms>\n</str:features>",
		item{Kind: KindFeatures, Child: "mechanisms", ChildSpace: NSSASL, Text: "\n \n"}},
	{"stream:features bind and session",
		`<stream:features><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/><session xmlns="urn:ietf:params:xml:ns:xmpp-session"/></stream:features>`,
		item{Kind: KindFeatures, Child: "bind", ChildSpace: NSBind}},
	{"auth",
		"<auth mechanism=\"PLAIN\"\nxmlns=\"urn:ietf:params:xml:ns:xmpp-sasl\">MTI2MjAwMzQ3OTMzQHByb2plY3RzLmdjbS5hb\nmFTeUIzcmNaTmtmbnFLZEZiOW1oekNCaVlwT1JEQTJKV1d0dw==</auth>",
		item{Kind: KindAuth, Text: "MTI2MjAwMzQ3OTMzQHByb2plY3RzLmdjbS5hb\nmFTeUIzcmNaTmtmbnFLZEZiOW1oekNCaVlwT1JEQTJKV1d0dw=="}},
	{"success", `<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>`, item{Kind: KindSuccess}},
	{"failure not-authorized",
		`<failure xmlns="urn:ietf:params:xml:ns:xmpp-sasl"><not-authorized/></failure>`,
		item{Kind: KindFailure, Child: "not-authorized", ChildSpace: NSSASL}},
	{"bind result",
		`<iq type="result" id="bind_1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>SENDER@gcm.googleapis.com/r0FAD177A</jid></bind></iq>`,
		item{Kind: KindIQ, Type: "result", ID: "bind_1", Child: "bind", ChildSpace: NSBind}},
	{"ping",
		`<iq type="get" id="p1" from="gcm.googleapis.com"><ping xmlns="urn:xmpp:ping"/></iq>`,
		item{Kind: KindIQ, Type: "get", ID: "p1", From: "gcm.googleapis.com", Child: "ping", ChildSpace: NSPing}},
	{"iq error",
		`<iq type="error" id="e1"><ping xmlns="urn:xmpp:ping"/><error type="cancel" code="503"><service-unavailable xmlns="urn:ietf:params:xml:ns:xmpp-stanzas"/></error></iq>`,
		item{Kind: KindIQ, Type: "error", ID: "e1", Child: "ping", ChildSpace: NSPing,
			ErrorCondition: "service-unavailable", ErrorCode: "503"}},
	{"stream error",
		`<stream:error><invalid-xml xmlns="urn:ietf:params:xml:ns:xmpp-streams"/><text xmlns="urn:ietf:params:xml:ns:xmpp-streams">bad &amp; worse</text></stream:error>`,
		item{Kind: KindStreamError, Child: "invalid-xml", ChildSpace: NSStreams, ErrorCondition: "invalid-xml", ErrorText: "bad & worse"}},
	{"stream error text first",
		`<stream:error><text xmlns="urn:ietf:params:xml:ns:xmpp-streams" xml:lang="en">t</text><policy-violation xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`,
		item{Kind: KindStreamError, Child: "text", ChildSpace: NSStreams, ErrorCondition: "policy-violation", ErrorText: "t"}},
	{"presence", `<presence/>`, item{Kind: KindPresence}},
	{"other", `<r xmlns="urn:xmpp:sm:3"/>`, item{Kind: KindOther}},
	{"message in another namespace",
		`<message xmlns="jabber:server"><gcm xmlns="google:mobile:data">{}</gcm></message>`,
		item{Kind: KindOther, Child: "gcm", ChildSpace: NSGCM}},
	{"entities in the payload",
		`<message><gcm xmlns="google:mobile:data">{&quot;a&quot;:&quot;&lt;&amp;&gt;&apos;&quot;}</gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: `{"a":"<&>'"}`}},
	{"character references in the payload",
		`<message><gcm xmlns="google:mobile:data">{&#34;a&#x22;:&#x22;&#xE9;&#233;&#x1F600;&#x000022;}</gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: `{"a":"éé😀"}`}},
	{"CDATA payload",
		`<message><gcm xmlns="google:mobile:data"><![CDATA[{"a":"<&>]]"}]]></gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: `{"a":"<&>]]"}`}},
	{"text, CDATA and entities mixed",
		`<message><gcm xmlns="google:mobile:data">{"a":<![CDATA["x]]>&quot;<![CDATA[]]>}</gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: `{"a":"x"}`}},
	{"line ends normalised",
		"<message><gcm xmlns=\"google:mobile:data\">a\r\nb\rc&#13;d<![CDATA[\r\n]]></gcm></message>",
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: "a\nb\nc\rd\n"}},
	{"same prefix, other namespace: not gcm",
		`<message><data:gcm xmlns:data="google:mobile:data2">{}</data:gcm></message>`,
		item{Kind: KindMessage, Child: "gcm", ChildSpace: "google:mobile:data2"}},
	{"gcm without namespace: not gcm",
		`<message><gcm>{}</gcm></message>`,
		item{Kind: KindMessage, Child: "gcm", ChildSpace: NSClient}},
	{"default namespace scoped to its element",
		`<message><x xmlns="google:mobile:data"/><gcm>{}</gcm></message>`,
		item{Kind: KindMessage, Child: "x", ChildSpace: NSGCM}},
	{"prefix declared on the message",
		`<message xmlns:g="google:mobile:data"><g:gcm>{"a":1}</g:gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: `{"a":1}`}},
	{"first gcm wins",
		`<message><gcm xmlns="google:mobile:data">1</gcm><gcm xmlns="google:mobile:data">2</gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: "1"}},
	{"empty gcm",
		`<message><gcm xmlns="google:mobile:data"/></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: "∅"}},
	{"gcm with a child element",
		`<message><gcm xmlns="google:mobile:data">a<b>c</b>d</gcm></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: "ad"}},
	{"gcm in a message in the middle of text",
		`<message>ab<gcm xmlns="google:mobile:data">x&amp;y</gcm>c&lt;d</message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: "x&y", Text: "abc<d"}},
	{"attributes decoded and normalised",
		"<message id=\"a&amp;b&#x3C;\" to='x\"y' from=\"p&#9;q\tr\r\ns\" type=\"chat&#10;\"/>",
		item{Kind: KindMessage, ID: "a&b<", To: `x"y`, From: "p\tq r s", Type: "chat\n"}},
	{"non-ASCII names and text",
		`<message><gcm xmlns="google:mobile:data">{"é":"日本"}</gcm><ünï:x xmlns:ünï="urn:u"/></message>`,
		item{Kind: KindMessage, HasGCM: true, Child: "gcm", ChildSpace: NSGCM, GCM: `{"é":"日本"}`}},
}

// stanzaCase returns the stanza of the named case.
func stanzaCase(name string) string {
	for _, tc := range stanzaCases {
		if tc.name == name {
			return tc.stanza
		}
	}
	panic("no stanza case " + name)
}

func TestFramerStanzas(t *testing.T) {
	t.Parallel()
	for _, tc := range stanzaCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			items, err := frameAll(strings.NewReader(testHeader+tc.stanza+testEnd), FramerConfig{})
			if err != io.EOF {
				t.Fatalf("Next() error %v; want io.EOF after the stream end", err)
			}
			want := tc.want
			want.Raw = tc.stanza
			if len(items) != 3 || items[0].Kind != KindStreamStart || items[2].Kind != KindStreamEnd {
				t.Fatalf("items = %+v; want stream start, one stanza, stream end", items)
			}
			if items[1] != want {
				t.Errorf("Next() =\n%+v\nwant\n%+v", items[1], want)
			}
		})
	}
}

func TestFramerStreamHeader(t *testing.T) {
	t.Parallel()
	items, err := frameAll(strings.NewReader(testHeader+" \n\t"+testEnd), FramerConfig{})
	if err != io.EOF {
		t.Fatalf("err = %v; want io.EOF", err)
	}
	want := []item{
		{Kind: KindStreamStart, Raw: testHeader, ID: "11B9885B7CAD20E3", From: "gcm.googleapis.com"},
		{Kind: KindKeepalive, Raw: " \n\t"},
		{Kind: KindStreamEnd, Raw: testEnd},
	}
	if fmt.Sprint(items) != fmt.Sprint(want) {
		t.Errorf("items = %+v; want %+v", items, want)
	}

	// The client's header: no declaration, default namespace first, a
	// prefix other than "stream" and the stream end with it.
	client := `<s:stream to="gcm.googleapis.com" version="1.0" xmlns="jabber:client" xmlns:s="http://etherx.jabber.org/streams">`
	items, err = frameAll(strings.NewReader(client+`<message/><s:features/></s:stream>`), FramerConfig{})
	if err != io.EOF || len(items) != 4 || items[0].To != "gcm.googleapis.com" ||
		items[1].Kind != KindMessage || items[2].Kind != KindFeatures || items[3].Kind != KindStreamEnd {
		t.Errorf("client header: items = %+v, %v", items, err)
	}
}

func TestFramerRestart(t *testing.T) {
	t.Parallel()
	// A pipelining client sends its new header right after the SASL
	// success; the framer must keep those bytes across Restart.
	second := `<stream:stream xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams" id="2">`
	in := testHeader + `<success xmlns="urn:ietf:params:xml:ns:xmpp-sasl"/>` + second + `<iq type="set" id="b"/>`
	for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
		f := NewFramer(r, FramerConfig{})
		var kinds []Kind
		for {
			st, err := f.Next()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("Next() error %v", err)
				}
				break
			}
			kinds = append(kinds, st.Kind)
			if st.Kind == KindSuccess {
				f.Restart()
			}
			if st.Kind == KindStreamStart && len(kinds) > 1 && string(st.ID) != "2" {
				t.Errorf("second header ID = %q; want 2", st.ID)
			}
		}
		want := []Kind{KindStreamStart, KindSuccess, KindStreamStart, KindIQ}
		if fmt.Sprint(kinds) != fmt.Sprint(want) {
			t.Errorf("kinds = %v; want %v", kinds, want)
		}
	}
}

// errorCases are bodies (after the test header) that must be refused.
var errorCases = []struct {
	name string
	body string
	want error
}{
	{"text between stanzas", `hello`, ErrMalformed},
	{"entity between stanzas", `&#32;`, ErrMalformed},
	{"CDATA between stanzas", `<![CDATA[ ]]>`, ErrMalformed},
	{"wrong stream end", `</stream:streams>`, ErrMalformed},
	{"stream end with another prefix", `</str:stream>`, ErrMalformed},
	{"mismatched end tag", `<message><a></b></message>`, ErrMalformed},
	{"end tag prefix differs", `<message xmlns:p="urn:p" xmlns:q="urn:p"><p:a></q:a></message>`, ErrMalformed},
	{"duplicate attribute", `<message a="1" a="2"/>`, ErrMalformed},
	{"duplicate expanded attribute", `<message xmlns:p="urn:p" xmlns:q="urn:p" p:a="1" q:a="2"/>`, ErrMalformed},
	{"duplicate namespace declaration", `<message xmlns:p="urn:p" xmlns:p="urn:p"/>`, ErrMalformed},
	{"undeclared element prefix", `<message><p:x/></message>`, ErrBadNamespace},
	{"undeclared attribute prefix", `<message p:a="1"/>`, ErrBadNamespace},
	{"prefix out of scope", `<message><a xmlns:p="urn:p"/><p:b/></message>`, ErrBadNamespace},
	{"empty prefixed namespace", `<message xmlns:p=""/>`, ErrBadNamespace},
	{"xml prefix rebound", `<message xmlns:xml="urn:x"/>`, ErrBadNamespace},
	{"xmlns prefix declared", `<message xmlns:xmlns="urn:x"/>`, ErrBadNamespace},
	{"xml namespace bound", `<message xmlns:p="http://www.w3.org/XML/1998/namespace"/>`, ErrBadNamespace},
	{"element with xmlns prefix", `<xmlns:a/>`, ErrBadNamespace},
	{"two colons", `<a:b:c/>`, ErrBadNamespace},
	{"leading colon", `<:a/>`, ErrBadNamespace},
	{"trailing colon", `<message><a: xmlns:a="urn:a"/></message>`, ErrBadNamespace},
	{"unknown entity", `<message>&foo;</message>`, ErrMalformed},
	{"entity without semicolon", `<message>&amp</message>`, ErrMalformed},
	{"bare ampersand", `<message>a & b</message>`, ErrMalformed},
	{"reference to NUL", `<message>&#0;</message>`, ErrMalformed},
	{"reference to a surrogate", `<message>&#xD800;</message>`, ErrMalformed},
	{"reference beyond Unicode", `<message>&#x110000;</message>`, ErrMalformed},
	{"huge reference", `<message>&#99999999999999999999999;</message>`, ErrMalformed},
	{"reference to U+FFFE", `<message>&#xFFFE;</message>`, ErrMalformed},
	{"uppercase X reference", `<message>&#X41;</message>`, ErrMalformed},
	{"empty reference", `<message>&#;</message>`, ErrMalformed},
	{"]]> in text", `<message>a]]>b</message>`, ErrMalformed},
	{"control character", "<message>\x01</message>", ErrMalformed},
	{"invalid UTF-8", "<message>\xff</message>", ErrMalformed},
	{"U+FFFF", "<message>\uffff</message>", ErrMalformed},
	{"encoded surrogate", "<message>\xed\xa0\x80</message>", ErrMalformed},
	{"control in CDATA", "<message><![CDATA[\x00]]></message>", ErrMalformed},
	{"control in attribute", "<message a=\"\x02\"/>", ErrMalformed},
	{"unquoted attribute", `<message a=1/>`, ErrMalformed},
	{"attribute without value", `<message a/>`, ErrMalformed},
	{"< in attribute", `<message a="<"/>`, ErrMalformed},
	{"bad entity in attribute", `<message a="&x;"/>`, ErrMalformed},
	{"no space between attributes", `<message a="1"b="2"/>`, ErrMalformed},
	{"space after <", `< message/>`, ErrMalformed},
	{"bad name start", `<1message/>`, ErrMalformed},
	{"bad name character", `<mes$sage/>`, ErrMalformed},
	{"/ without >", `<message/ >`, ErrMalformed},
	{"junk in end tag", `<message></message x>`, ErrMalformed},
	{"invalid <! sequence", `<message><!-x</message>`, ErrMalformed},
	{"invalid <![ sequence", `<message><![CDATX[x]]></message>`, ErrMalformed},
	{"comment between stanzas", `<!-- c -->`, ErrRestricted},
	{"comment in a stanza", `<message><!-- c --></message>`, ErrRestricted},
	{"PI between stanzas", `<?pi x?>`, ErrRestricted},
	{"PI in a stanza", `<message><?pi x?></message>`, ErrRestricted},
	{"XML declaration after the header", `<?xml version="1.0"?>`, ErrRestricted},
	{"DOCTYPE between stanzas", `<!DOCTYPE x>`, ErrRestricted},
	{"entity declaration", `<!ENTITY x "y">`, ErrRestricted},
	{"DOCTYPE in a stanza", `<message><!DOCTYPE x></message>`, ErrRestricted},
	{"too many attributes", `<message` + func() string {
		var b strings.Builder
		for i := 0; i <= maxAttrs; i++ {
			fmt.Fprintf(&b, ` a%d="x"`, i)
		}
		return b.String()
	}() + `/>`, ErrStanzaTooLarge},
	{"too deep", strings.Repeat("<a>", DefaultMaxDepth+1) + strings.Repeat("</a>", DefaultMaxDepth+1), ErrTooDeep},
}

func TestFramerErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range errorCases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			in := testHeader + tc.body + testEnd
			for _, r := range []io.Reader{strings.NewReader(in), iotest.OneByteReader(strings.NewReader(in))} {
				_, err := frameAll(r, FramerConfig{})
				var se *SyntaxError
				if !errors.As(err, &se) || !errors.Is(err, tc.want) {
					t.Fatalf("Next() error %v; want a *SyntaxError wrapping %v", err, tc.want)
				}
				if se.Offset < int64(len(testHeader)) || se.Offset > int64(len(in)) {
					t.Errorf("Offset = %d; want within the body [%d, %d]", se.Offset, len(testHeader), len(in))
				}
			}
		})
	}
	// Exactly at the limits: accepted.
	ok := testHeader + strings.Repeat("<a>", DefaultMaxDepth) + strings.Repeat("</a>", DefaultMaxDepth) + testEnd
	if _, err := frameAll(strings.NewReader(ok), FramerConfig{}); err != io.EOF {
		t.Errorf("nesting of exactly MaxDepth: %v; want io.EOF", err)
	}
}

func TestFramerHeaderErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		want     error
	}{
		{"garbage", "GET / HTTP/1.1\r\n\r\n", ErrMalformed},
		{"garbage after declaration", `<?xml version="1.0"?>hello`, ErrMalformed},
		{"wrong namespace", `<stream:stream xmlns:stream="urn:other">`, ErrBadNamespace},
		{"wrong local name", `<stream:streamx xmlns:stream="http://etherx.jabber.org/streams">`, ErrBadNamespace},
		{"undeclared stream prefix", `<stream:stream xmlns="jabber:client">`, ErrBadNamespace},
		{"self-closing header", `<stream:stream xmlns:stream="http://etherx.jabber.org/streams"/>`, ErrMalformed},
		{"end tag first", `</stream:stream>`, ErrMalformed},
		{"DOCTYPE", `<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">]>`, ErrRestricted},
		{"comment", `<!-- hi --><stream:stream xmlns:stream="http://etherx.jabber.org/streams">`, ErrRestricted},
		{"PI", `<?php echo 1 ?>`, ErrRestricted},
		{"bad encoding", `<?xml version="1.0" encoding="ISO-8859-1"?>`, ErrMalformed},
		{"bad version", `<?xml version="2.0"?>`, ErrMalformed},
		{"declaration without version", `<?xml encoding="UTF-8"?>`, ErrMalformed},
		{"malformed header", `<stream:stream xmlns:stream="http://etherx.jabber.org/streams" a=b>`, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			_, err := frameAll(strings.NewReader(tc.in+strings.Repeat(" ", 10)+testEnd), FramerConfig{})
			if !errors.Is(err, tc.want) {
				t.Errorf("Next() error %v; want %v", err, tc.want)
			}
		})
	}
	for _, in := range []string{
		`<?xml version="1.0" encoding="utf-8" standalone='yes' ?>` + "\n" + `<stream xmlns="http://etherx.jabber.org/streams">`,
		"\n\n" + `<stream:stream xmlns:stream="http://etherx.jabber.org/streams">`,
	} {
		items, err := frameAll(strings.NewReader(in), FramerConfig{})
		if err != io.EOF || len(items) != 1 || items[0].Kind != KindStreamStart || items[0].Raw != in {
			t.Errorf("frameAll(%q) = %+v, %v; want one stream start", in, items, err)
		}
	}
}

func TestFramerEOF(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, in string
		n        int
		want     error
	}{
		{"empty", "", 0, io.EOF},
		{"header only", testHeader, 1, io.EOF},
		{"between stanzas", testHeader + `<presence/> `, 3, io.EOF},
		{"inside the header", testHeader[:40], 0, io.ErrUnexpectedEOF},
		{"inside a stanza", testHeader + `<message><gcm>{`, 1, io.ErrUnexpectedEOF},
		{"inside a tag", testHeader + `<message id="`, 1, io.ErrUnexpectedEOF},
		{"after the stream end", testHeader + testEnd + `garbage`, 2, io.EOF},
		{"syntax error before EOF", testHeader + `<message><a></b>`, 1, ErrMalformed},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			for _, r := range []io.Reader{strings.NewReader(tc.in), iotest.OneByteReader(strings.NewReader(tc.in)),
				iotest.DataErrReader(strings.NewReader(tc.in))} {
				items, err := frameAll(r, FramerConfig{})
				if len(mergeKeepalives(items)) != tc.n || !errors.Is(err, tc.want) {
					t.Errorf("frameAll = %d items, %v; want %d, %v", len(items), err, tc.n, tc.want)
				}
			}
		})
	}
}

// errAfterReader returns its data, then err (not io.EOF).
type errAfterReader struct {
	r   io.Reader
	err error
}

func (e *errAfterReader) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err == io.EOF {
		err = e.err
	}
	return n, err
}

func TestFramerReaderError(t *testing.T) {
	t.Parallel()
	boom := errors.New("boom")
	f := NewFramer(&errAfterReader{strings.NewReader(testHeader + `<presence/><iq`), boom}, FramerConfig{})
	var kinds []Kind
	var err error
	for {
		var st *Stanza
		if st, err = f.Next(); err != nil {
			break
		}
		kinds = append(kinds, st.Kind)
	}
	if !errors.Is(err, boom) || len(kinds) != 2 {
		t.Errorf("Next() = %v after %v; want boom after the stream start and the presence", err, kinds)
	}
	// A reader that makes no progress.
	f = NewFramer(iotest.ErrReader(nil), FramerConfig{})
	if _, err := f.Next(); err != io.ErrNoProgress {
		t.Errorf("Next() on a (0, nil) reader = %v; want io.ErrNoProgress", err)
	}
}

func TestFramerBuffered(t *testing.T) {
	t.Parallel()
	in := testHeader + `<presence/><presence/>`
	f := NewFramer(strings.NewReader(in), FramerConfig{})
	want := []int{len(in) - len(testHeader), len(`<presence/>`), 0}
	for i, w := range want {
		if _, err := f.Next(); err != nil {
			t.Fatal(err)
		}
		if got := f.Buffered(); got != w {
			t.Errorf("after item %d: Buffered() = %d; want %d", i, got, w)
		}
	}
}

// splitStream is every stanza case, with keepalives, in one stream.
func splitStream() string {
	var b strings.Builder
	b.WriteString(testHeader)
	for i, tc := range stanzaCases {
		b.WriteString(tc.stanza)
		b.WriteString(strings.Repeat(" ", i%3))
	}
	b.WriteString(testEnd)
	return b.String()
}

// chunkReader returns its data in the given chunks, one per Read.
type chunkReader struct{ chunks [][]byte }

func (c *chunkReader) Read(p []byte) (int, error) {
	for len(c.chunks) > 0 && len(c.chunks[0]) == 0 {
		c.chunks = c.chunks[1:]
	}
	if len(c.chunks) == 0 {
		return 0, io.EOF
	}
	n := copy(p, c.chunks[0])
	c.chunks[0] = c.chunks[0][n:]
	return n, nil
}

func TestFramerSplits(t *testing.T) {
	t.Parallel()
	in := splitStream()
	ref, err := frameAll(strings.NewReader(in), FramerConfig{ReadSize: 1 << 20})
	if err != io.EOF {
		t.Fatalf("reference: %v", err)
	}
	ref = mergeKeepalives(ref)
	if len(ref) < len(stanzaCases)+2 {
		t.Fatalf("reference: %d items; want at least %d", len(ref), len(stanzaCases)+2)
	}
	check := func(name string, r io.Reader, cfg FramerConfig) {
		t.Helper()
		got, err := frameAll(r, cfg)
		if err != io.EOF {
			t.Fatalf("%s: %v", name, err)
		}
		got = mergeKeepalives(got)
		if len(got) != len(ref) {
			t.Fatalf("%s: %d items; want %d", name, len(got), len(ref))
		}
		for i := range got {
			if got[i] != ref[i] {
				t.Fatalf("%s: item %d =\n%+v\nwant\n%+v", name, i, got[i], ref[i])
			}
		}
	}
	check("one byte per read", iotest.OneByteReader(strings.NewReader(in)), FramerConfig{})
	check("one byte per read, small buffer", iotest.OneByteReader(strings.NewReader(in)), FramerConfig{ReadSize: 16})
	check("half reads", iotest.HalfReader(strings.NewReader(in)), FramerConfig{ReadSize: 100})
	for _, rs := range []int{1, 7, 64} {
		check(fmt.Sprintf("ReadSize %d", rs), strings.NewReader(in), FramerConfig{ReadSize: rs})
	}
	for i := 0; i <= len(in); i++ {
		b := []byte(in)
		check(fmt.Sprintf("split at %d", i), &chunkReader{[][]byte{b[:i], b[i:]}}, FramerConfig{})
	}
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// endlessReader repeats a pattern forever.
type endlessReader struct {
	head, pat []byte
	off       int
}

func (e *endlessReader) Read(p []byte) (int, error) {
	if len(e.head) > 0 {
		n := copy(p, e.head)
		e.head = e.head[n:]
		return n, nil
	}
	for i := range p {
		p[i] = e.pat[e.off]
		e.off = (e.off + 1) % len(e.pat)
	}
	return len(p), nil
}

func TestFramerLimits(t *testing.T) {
	t.Parallel()
	const readSize = 32 << 10
	cases := []struct {
		name  string
		head  string
		pat   string
		limit FramerConfig
		want  error
		max   int64 // most bytes the framer may read
	}{
		{"oversized text", testHeader + `<message><gcm xmlns="google:mobile:data">`, `{"a":1}`,
			FramerConfig{}, ErrStanzaTooLarge, int64(len(testHeader)) + DefaultMaxStanza + readSize},
		{"oversized attribute", testHeader + `<message id="`, `x`,
			FramerConfig{}, ErrStanzaTooLarge, int64(len(testHeader)) + DefaultMaxStanza + readSize},
		{"oversized, small limit", testHeader + `<message>`, `<a/>`,
			FramerConfig{MaxStanza: 1000, ReadSize: 512}, ErrStanzaTooLarge, int64(len(testHeader)) + 1000 + 512},
		{"oversized header", `<stream:stream xmlns:stream="http://etherx.jabber.org/streams" a="`, `b`,
			FramerConfig{}, ErrStanzaTooLarge, DefaultMaxStanza + readSize},
		{"endless white space before the header", ``, ` `,
			FramerConfig{}, ErrStanzaTooLarge, DefaultMaxStanza + readSize},
		{"200k nested elements", testHeader + `<message>`, `<a>`,
			FramerConfig{}, ErrTooDeep, int64(len(testHeader)) + readSize},
		{"billion laughs", `<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
]>
<stream:stream xmlns:stream="http://etherx.jabber.org/streams">&lol2;`, `&lol2;`,
			FramerConfig{}, ErrRestricted, readSize},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cr := &countingReader{r: &endlessReader{head: []byte(tc.head), pat: []byte(tc.pat)}}
			f := NewFramer(cr, tc.limit)
			var err error
			for i := 0; i < 10 && err == nil; i++ {
				_, err = f.Next()
			}
			if !errors.Is(err, tc.want) {
				t.Fatalf("Next() error %v; want %v", err, tc.want)
			}
			if cr.n > tc.max {
				t.Errorf("read %d bytes before refusing; want at most %d", cr.n, tc.max)
			}
			if max := f.maxStanza + f.readSize; len(f.buf) > max {
				t.Errorf("buffer grew to %d bytes; want at most %d", len(f.buf), max)
			}
		})
	}
}

func TestFramerTree(t *testing.T) {
	t.Parallel()
	in := testHeader + stanzaCase("stanza error echoing the payload") + `<iq type="result" id="b"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"><jid>S@gcm.googleapis.com/r1</jid></bind></iq> ` + testEnd
	f := NewFramer(strings.NewReader(in), FramerConfig{})
	if _, err := f.Next(); err != nil {
		t.Fatal(err)
	}
	hdr, err := f.Tree()
	if err != nil || hdr.Space != NSStream || hdr.Local != "stream" || hdr.AttrValue("id") != "11B9885B7CAD20E3" ||
		len(hdr.Children) != 0 || len(hdr.Attr) != 3 {
		t.Errorf("Tree() of the header = %+v, %v", hdr, err)
	}
	st, err := f.Next()
	if err != nil {
		t.Fatal(err)
	}
	e, err := f.Tree()
	if err != nil {
		t.Fatal(err)
	}
	if e.Space != NSClient || e.Local != "message" || e.AttrValue("type") != "error" || e.AttrValue("to") != string(st.To) {
		t.Errorf("Tree() root = %+v", e)
	}
	g := e.Child(NSGCM, "gcm")
	if g == nil || g.Text != string(st.GCM) {
		t.Errorf("Tree() gcm = %+v; want text %q", g, st.GCM)
	}
	er := e.Child(NSClient, "error")
	if er == nil || er.AttrValue("code") != "400" || er.Child(NSStanzas, "bad-request") == nil ||
		er.Child(NSStanzas, "text") == nil || er.Child(NSStanzas, "text").Text != string(st.ErrorText) {
		t.Errorf("Tree() error = %+v", er)
	}
	if _, err = f.Next(); err != nil {
		t.Fatal(err)
	}
	iq, err := f.Tree()
	if err != nil {
		t.Fatal(err)
	}
	if jid := iq.Child(NSBind, "bind").Child(NSBind, "jid"); jid == nil || jid.Text != "S@gcm.googleapis.com/r1" {
		t.Errorf("Tree() jid = %+v", jid)
	}
	if _, err = f.Next(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Tree(); err == nil {
		t.Errorf("Tree() of a keepalive: nil error")
	}
}

func TestFramerTreeAttrs(t *testing.T) {
	t.Parallel()
	in := testHeader + `<message xmlns:p="urn:p" p:a="1&amp;" b="x&#9;y" xml:lang="en"><![CDATA[<c>]]>d&lt;</message>`
	f := NewFramer(strings.NewReader(in), FramerConfig{})
	f.Next()
	if _, err := f.Next(); err != nil {
		t.Fatal(err)
	}
	e, err := f.Tree()
	if err != nil {
		t.Fatal(err)
	}
	want := []Attr{{"urn:p", "a", "1&"}, {"", "b", "x\ty"}, {xmlURI, "lang", "en"}}
	if fmt.Sprint(e.Attr) != fmt.Sprint(want) || e.Text != "<c>d<" {
		t.Errorf("Tree() = %+v; want attributes %v and text <c>d<", e, want)
	}
}

func TestFramerAllocs(t *testing.T) {
	body := repeatStanzas(100, ackStanza)
	body = append(body, repeatStanzas(10, upstreamStanza)...)
	body = append(body, []byte(stanzaCase("stanza error echoing the payload")+" "+stanzaCase("text, CDATA and entities mixed"))...)
	f := newLoopFramer(t, body)
	var r JSONReader
	var m Message
	run := func() {
		for range 1000 {
			st, err := f.Next()
			if err != nil {
				t.Fatal(err)
			}
			if st.Kind == KindMessage && st.Type == nil {
				if err := r.Parse(st.GCM, &m); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	run() // warm up: buffers reach their size
	if n := testing.AllocsPerRun(20, run); n != 0 {
		t.Errorf("framing and parsing 1000 stanzas: %v allocations; want 0", n)
	}
}

// promptReader feeds data in chunks and records whether the framer asked
// for more while a complete item (other than white space) was still
// buffered: a Next that blocks then would leave a peer waiting.
type promptReader struct {
	data     []byte
	given    int
	chunk    int
	ends     []int // end offsets of the non-keepalive items
	returned int   // non-keepalive items returned so far
	late     int   // reads made while item ends[returned] was complete, or -1
}

func (r *promptReader) Read(p []byte) (int, error) {
	if r.late < 0 && r.returned < len(r.ends) && r.ends[r.returned] <= r.given {
		r.late = r.returned
	}
	if r.given == len(r.data) {
		return 0, io.EOF
	}
	n := copy(p[:min(len(p), r.chunk)], r.data[r.given:])
	r.given += n
	return n, nil
}

func TestFramerPrompt(t *testing.T) {
	t.Parallel()
	in := splitStream()
	ref, err := frameAll(strings.NewReader(in), FramerConfig{ReadSize: 1 << 20})
	if err != io.EOF {
		t.Fatal(err)
	}
	var ends []int
	off := 0
	for _, it := range ref {
		off += len(it.Raw)
		if it.Kind != KindKeepalive {
			ends = append(ends, off)
		}
	}
	for _, chunk := range []int{1, 2, 3, 7, 64, 1000} {
		r := &promptReader{data: []byte(in), chunk: chunk, ends: ends, late: -1}
		f := NewFramer(r, FramerConfig{ReadSize: 256})
		for {
			st, err := f.Next()
			if err != nil {
				if err != io.EOF {
					t.Fatalf("chunk %d: %v", chunk, err)
				}
				break
			}
			if st.Kind != KindKeepalive {
				r.returned++
			}
		}
		if r.returned != len(ends) || r.late >= 0 {
			t.Errorf("chunk %d: %d of %d items; read again while item %d was complete", chunk, r.returned, len(ends), r.late)
		}
	}
}

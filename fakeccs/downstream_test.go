package fakeccs

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

func TestAck(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	c := dial(t, srv)
	c.send(msg("m-1"))
	c.send(`{"condition":"'a' in topics","message_id":"m-2"}`)
	c.send(`{"to":"/topics/news","message_id":"m-3","time_to_live":0,"priority":"high","delay_while_idle":false,"dry_run":true,"notification":{"title":"t"}}`)
	wantAck(t, c.next(), "m-1")
	it := c.next()
	if it.JSON["message_type"] != "ack" || it.JSON["message_id"] != "m-2" || it.JSON["from"] != "'a' in topics" {
		t.Fatalf("condition message: got %+v; want an ACK", it)
	}
	it = c.next()
	if it.JSON["message_type"] != "ack" || it.JSON["from"] != "/topics/news" {
		t.Fatalf("topic message: got %+v; want an ACK from /topics/news", it)
	}
	if _, ok := it.JSON["registration_id"]; ok {
		t.Fatalf("ACK carries a canonical id with CanonicalRate 0: %+v", it)
	}
	st := waitStats(t, srv, "3 received and acked", func(s Stats) bool { return s.Acks == 3 && s.Received == 3 })
	if st.Connections != 1 || st.ActiveConnections != 1 || st.WindowViolations != 0 {
		t.Fatalf("stats %+v; want 3 received on 1 connection", st)
	}
	if st.UniqueIDs != nil || st.Duplicates != nil {
		t.Fatalf("unique_ids/duplicates set without TrackIDs: %+v", st)
	}
}

func TestInvalidJSON(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	big := `{"x":"` + strings.Repeat("a", MaxData) + `"}`
	mid := `{"x":"` + strings.Repeat("a", 3000) + `"}`
	cases := []struct {
		payload, want string
	}{
		{`{"to":"R","message_id":"ttl-neg","time_to_live":-1}`, `InvalidJson : INVALID_TTL : Invalid value (-1) for "time_to_live": must be between 0 and "2419200"` + "\n"},
		{`{"to":"R","message_id":"ttl-big","time_to_live":2419201}`, `INVALID_TTL : Invalid value (2419201)`},
		{`{"to":"R","message_id":"ttl-float","time_to_live":1.5}`, `INVALID_TTL : Invalid value (1.5)`},
		{`{"to":"R","message_id":"ttl-str","time_to_live":"600"}`, `JSON_TYPE_ERROR : Field "time_to_live" must be a JSON java.lang.Number: 600`},
		{`{"to":"R","message_id":"dwi","delay_while_idle":"not-boolean-user-supplied-value"}`, `InvalidJson : JSON_TYPE_ERROR : Field "delay_while_idle" must be a JSON java.lang.Boolean: not-boolean-user-supplied-value` + "\n"},
		{`{"to":"R","message_id":"dry","dry_run":1}`, `Field "dry_run" must be a JSON java.lang.Boolean: 1`},
		{`{"to":"R","message_id":"drr","delivery_receipt_requested":"yes"}`, `Field "delivery_receipt_requested" must be a JSON java.lang.Boolean`},
		{`{"to":"R","message_id":"prio","priority":"urgent"}`, `INVALID_PRIORITY : Invalid value (urgent) for "priority"`},
		{`{"to":"R","message_id":"prio-num","priority":10}`, `Field "priority" must be a JSON java.lang.String`},
		{`{"to":"R","message_id":"data-big","data":` + big + `}`, `MESSAGE_TOO_BIG`},
		{`{"to":"/topics/a","message_id":"topic-big","data":` + mid + `}`, `over the limit of 2048`},
		{`{"to":"R","message_id":"data-from","data":{"from":"x"}}`, `INVALID_DATA_KEY : Key "from"`},
		{`{"to":"R","message_id":"data-google","data":{"google.x":"y"}}`, `INVALID_DATA_KEY : Key "google.x"`},
		{`{"to":"R","message_id":"data-esc","data":{"\u0066rom":"x"}}`, `INVALID_DATA_KEY : Key "from"`},
		{`{"to":"R","message_id":"data-arr","data":[1]}`, `Field "data" must be a JSON`},
		{`{"registration_ids":["a","b"],"message_id":"regids"}`, `"registration_ids" is not supported`},
		{`{"message_id":"no-to","data":{}}`, `Missing Required Field: to`},
		{`{"to":5,"message_id":"to-num"}`, `Field "to" must be a JSON java.lang.String`},
	}
	c := dial(t, srv)
	for _, tc := range cases {
		c.send(tc.payload)
	}
	for _, tc := range cases {
		var id struct {
			ID string `json:"message_id"`
		}
		json.Unmarshal([]byte(tc.payload), &id)
		it := c.next()
		desc := wantNack(t, it, id.ID, "INVALID_JSON")
		if !strings.Contains(desc, tc.want) {
			t.Errorf("payload %.60s: description %q; want it to contain %q", tc.payload, desc, tc.want)
		}
	}
	// Exactly at the limits is fine.
	ok := `{"x":"` + strings.Repeat("a", MaxData-1) + `"}` // key "x" (1 byte) + value: exactly MaxData
	c.send(`{"to":"R","message_id":"ttl-max","time_to_live":2419200,"data":` + ok + `}`)
	if it := c.next(); it.JSON["message_type"] != "ack" {
		t.Fatalf("limits: got %+v; want an ACK", it)
	}
	waitStats(t, srv, "the nacks and the ack", func(s Stats) bool {
		return s.Nacks["INVALID_JSON"] == uint64(len(cases)) && s.Acks == 1
	})
}

func TestStanzaErrors(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	c := dial(t, srv)
	cases := []struct{ payload, text string }{
		{`{"random": "text"}`, "InvalidJson: JSON_PARSING_ERROR : Missing Required Field: message_id\n"},
		{`{"to":"R","message_id":""}`, "Missing Required Field: message_id"},
		{`{"to":"R","message_id":12}`, `Field "message_id" must be a JSON java.lang.String: 12`},
		{`not json at all <&>`, "InvalidJson: JSON_PARSING_ERROR : "},
		{`{"to":"R","message_id":"x"`, "InvalidJson: JSON_PARSING_ERROR : "},
		{`["to"]`, "InvalidJson: JSON_PARSING_ERROR : "},
	}
	for i, tc := range cases {
		c.out = append(c.out[:0], fmt.Sprintf(`<message id="s%d"><gcm xmlns="google:mobile:data">`, i)...)
		c.out = append(c.out, strings.NewReplacer("<", "&lt;", "&", "&amp;", ">", "&gt;").Replace(tc.payload)...)
		c.out = append(c.out, "</gcm></message>"...)
		c.raw(string(c.out))
	}
	for i, tc := range cases {
		it := c.next()
		if it.Kind != ccs.KindMessage || it.Type != "error" || it.ID != fmt.Sprintf("s%d", i) ||
			it.ErrorCondition != "bad-request" || it.ErrCode != "400" {
			t.Fatalf("payload %q: got %+v; want a stanza error 400 bad-request for s%d", tc.payload, it, i)
		}
		if it.GCM != tc.payload {
			t.Errorf("stanza error echoes %q; want the payload %q", it.GCM, tc.payload)
		}
		if !strings.Contains(it.ErrorText, tc.text) {
			t.Errorf("payload %q: text %q; want it to contain %q", tc.payload, it.ErrorText, tc.text)
		}
	}
	waitStats(t, srv, "stanza errors for every message received", func(s Stats) bool {
		return s.StanzaErrors == uint64(len(cases)) && s.Received == uint64(len(cases))
	})
	witness(t, srv)
}

func TestDuplicateIDs(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{TrackIDs: true})
	c := dial(t, srv)
	c.send(msg("d-1"))
	c.send(msg("d-1"))
	wantAck(t, c.next(), "d-1")
	if d := wantNack(t, c.next(), "d-1", "INVALID_JSON"); d != "Message with the same id has been received before" {
		t.Fatalf("duplicate description %q", d)
	}
	c2 := dial(t, srv) // another connection may use the id
	c2.send(msg("d-1"))
	wantAck(t, c2.next(), "d-1")
	c2.send(msg("d-2"))
	wantAck(t, c2.next(), "d-2")
	st := waitStats(t, srv, "4 received", func(s Stats) bool { return s.Received == 4 })
	if st.UniqueIDs == nil || *st.UniqueIDs != 2 || st.Duplicates == nil || *st.Duplicates != 2 {
		t.Fatalf("unique_ids %v duplicates %v; want 2 and 2", st.UniqueIDs, st.Duplicates)
	}
}

func TestRetryableNackIDReusable(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{Nack: []NackRule{{Code: "SERVICE_UNAVAILABLE", Rate: 1}}})
	c := dial(t, srv)
	for range 3 { // the same id retried on the same connection is not a duplicate
		c.send(msg("r-1"))
		if d := wantNack(t, c.next(), "r-1", "SERVICE_UNAVAILABLE"); d == "" {
			t.Fatal("NACK without a description")
		}
	}
	waitStats(t, srv, "3 nacks", func(s Stats) bool { return s.Nacks["SERVICE_UNAVAILABLE"] == 3 })
}

func TestNackRules(t *testing.T) {
	t.Parallel()
	rules, err := ParseNackRules("SERVICE_UNAVAILABLE=0.25, MY_OWN_CODE=0.25")
	if err != nil {
		t.Fatal(err)
	}
	srv := startServer(t, Config{Nack: rules, Seed: 7})
	c := dial(t, srv)
	const n = 400
	for i := range n {
		c.send(msg(fmt.Sprintf("n-%d", i)))
	}
	counts := map[string]int{}
	for i := range n {
		it := c.next()
		if it.JSON["message_id"] != fmt.Sprintf("n-%d", i) {
			t.Fatalf("answer %d is for %v", i, it.JSON["message_id"])
		}
		if it.JSON["message_type"] == "ack" {
			counts["ack"]++
		} else {
			counts[it.JSON["error"].(string)]++
		}
	}
	// Binomial(400, 0.25): mean 100, sd 8.7; the seed makes it repeatable.
	for _, k := range []string{"SERVICE_UNAVAILABLE", "MY_OWN_CODE"} {
		if counts[k] < 60 || counts[k] > 140 {
			t.Errorf("%s: %d of %d; want about 100 (counts %v)", k, counts[k], n, counts)
		}
	}
	waitStats(t, srv, "every answer counted by code", func(s Stats) bool {
		return s.Acks == uint64(counts["ack"]) && s.Nacks["MY_OWN_CODE"] == uint64(counts["MY_OWN_CODE"]) &&
			s.Nacks["SERVICE_UNAVAILABLE"] == uint64(counts["SERVICE_UNAVAILABLE"])
	})
	// Same seed, same choices.
	srv2 := startServer(t, Config{Nack: rules, Seed: 7})
	c2 := dial(t, srv2)
	for i := range n {
		c2.send(msg(fmt.Sprintf("n-%d", i)))
	}
	counts2 := map[string]int{}
	for range n {
		it := c2.next()
		if it.JSON["message_type"] == "ack" {
			counts2["ack"]++
		} else {
			counts2[it.JSON["error"].(string)]++
		}
	}
	if fmt.Sprint(counts) != fmt.Sprint(counts2) {
		t.Fatalf("seed 7 gave %v, then %v", counts, counts2)
	}
}

func TestCanonicalIDs(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{CanonicalRate: 1})
	c := dial(t, srv)
	c.send(msg("c-1"))
	it := c.next()
	wantAck(t, it, "c-1")
	reg, _ := it.JSON["registration_id"].(string)
	if !strings.HasPrefix(reg, "CANONICAL_") || len(reg) != len("CANONICAL_")+16 {
		t.Fatalf("registration_id %q; want CANONICAL_ and 16 hex digits", reg)
	}
	waitStats(t, srv, "canonical", func(s Stats) bool { return s.Canonical == 1 })
}

func TestRegistry(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{BadRegistration: []string{"bad-*", "exact-bad"}, Unregistered: []string{"gone-??"}})
	c := dial(t, srv)
	for _, tc := range []struct{ to, want string }{
		{"bad-123", "BAD_REGISTRATION"}, {"exact-bad", "BAD_REGISTRATION"}, {"exact-bad2", "ack"},
		{"gone-12", "DEVICE_UNREGISTERED"}, {"gone-123", "ack"}, {"good", "ack"},
	} {
		c.send(`{"to":"` + tc.to + `","message_id":"` + tc.to + `"}`)
		it := c.next()
		got := it.JSON["message_type"]
		if got == "nack" {
			got = it.JSON["error"]
		}
		if got != tc.want || it.JSON["from"] != tc.to {
			t.Errorf("to %q: got %+v; want %s", tc.to, it.JSON, tc.want)
		}
	}
}

func TestGlob(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		p, s string
		want bool
	}{
		{"*", "", true}, {"a*", "abc", true}, {"*c", "abc", true}, {"a*c", "abbbc", true}, {"a?c", "abc", true},
		{"a?c", "ac", false}, {"abc", "abcd", false}, {"*b*", "xbx", true}, {"a*b*c", "aXbYbZc", true},
		{"a*b", "aXbYc", false}, {"/topics/*", "/topics/a/b", true}, {"**", "x", true}, {"*", "*", true},
	} {
		if got := globMatch(tc.p, []byte(tc.s)); got != tc.want {
			t.Errorf("globMatch(%q, %q) = %v; want %v", tc.p, tc.s, got, tc.want)
		}
	}
}

func TestDeviceRate(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{DeviceRate: 2})
	c := dial(t, srv)
	// Burst of 2 for one device, then the third is refused; another device is fine.
	for i, want := range []string{"ack", "ack", "DEVICE_MESSAGE_RATE_EXCEEDED"} {
		c.send(fmt.Sprintf(`{"to":"dev-A","message_id":"a-%d"}`, i))
		it := c.next()
		got := it.JSON["message_type"]
		if got == "nack" {
			got = it.JSON["error"]
		}
		if got != want {
			t.Fatalf("message %d to dev-A: got %+v; want %s", i, it.JSON, want)
		}
	}
	c.send(`{"to":"dev-B","message_id":"b-0"}`)
	if it := c.next(); it.JSON["message_type"] != "ack" {
		t.Fatalf("dev-B: got %+v; want an ACK", it.JSON)
	}
}

func TestIQs(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	c := dial(t, srv)
	c.raw(`<iq type="get" id="p1"><ping xmlns="urn:xmpp:ping"/></iq>`)
	if it := c.next(); it.Kind != ccs.KindIQ || it.Type != "result" || it.ID != "p1" {
		t.Fatalf("ping: got %+v; want an IQ result p1", it)
	}
	c.raw(`<iq type="set" id="s1"><session xmlns="urn:ietf:params:xml:ns:xmpp-session"/></iq>`)
	if it := c.next(); it.Type != "result" || it.ID != "s1" {
		t.Fatalf("session: got %+v; want an IQ result s1", it)
	}
	c.raw(`<iq type="get" id="v1"><query xmlns="jabber:iq:version"/></iq>`)
	if it := c.next(); it.Type != "error" || it.ID != "v1" || it.ErrorCondition != "service-unavailable" {
		t.Fatalf("version query: got %+v; want service-unavailable", it)
	}
	c.raw(`<iq type="result" id="x"/><presence/>`)
	c.send(msg("after"))
	wantAck(t, c.next(), "after")
	waitStats(t, srv, "1 ping, 1 IQ error, 2 ignored", func(s Stats) bool {
		return s.Pings == 1 && s.IQErrors == 1 && s.Ignored == 2
	})
}

func TestAckDelay(t *testing.T) {
	t.Parallel()
	const delay = 60 * time.Millisecond
	srv := startServer(t, Config{AckDelay: delay, AckJitter: 20 * time.Millisecond})
	c := dial(t, srv)
	start := time.Now()
	for i := range 10 {
		c.send(msg(fmt.Sprintf("d-%d", i)))
	}
	seen := map[string]bool{}
	for range 10 {
		it := c.next()
		if it.JSON["message_type"] != "ack" {
			t.Fatalf("got %+v; want an ACK", it)
		}
		seen[it.JSON["message_id"].(string)] = true
		if el := time.Since(start); el < delay {
			t.Fatalf("ACK after %v; want at least %v", el, delay)
		}
	}
	if len(seen) != 10 {
		t.Fatalf("ACKs for %d distinct ids; want 10", len(seen))
	}
}

// TestRegistrationShares checks that the shares pick about the share of
// registration ids asked for, and that one id gets the same answer on
// every connection.
func TestRegistrationShares(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{BadRegistrationShare: 0.3, UnregisteredShare: 0.2, Seed: 7})
	const ids = 1000
	answers := [2]map[string]string{{}, {}}
	for k := range answers {
		c := dial(t, srv)
		var burst []byte
		for i := range ids {
			burst = ccs.AppendDownstream(burst, fmt.Appendf(nil, `{"to":"dev-%d","message_id":"c%d-%d"}`, i, k, i))
		}
		c.raw(string(burst))
		for range ids {
			it := c.next()
			code, _ := it.JSON["error"].(string)
			if code == "" {
				code = "ack"
			}
			answers[k][it.JSON["from"].(string)] = code
		}
		c.c.Close()
	}
	counts := map[string]int{}
	for reg, code := range answers[0] {
		if answers[1][reg] != code {
			t.Errorf("registration id %s: %s on one connection, %s on another", reg, code, answers[1][reg])
		}
		counts[code]++
	}
	// 3 standard deviations of a binomial(1000, p).
	for code, p := range map[string]float64{"BAD_REGISTRATION": 0.3, "DEVICE_UNREGISTERED": 0.2, "ack": 0.5} {
		if got := float64(counts[code]) / ids; got < p-0.05 || got > p+0.05 {
			t.Errorf("%s for %.3f of the registration ids; want about %.1f", code, got, p)
		}
	}
}

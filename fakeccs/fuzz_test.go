package fakeccs

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"sync"
	"testing"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

var (
	fuzzOnce    sync.Once
	fuzzServers [2]*Server
)

// fuzzServer returns one of two servers shared by fuzz runs: everything
// answered at once (draining, prefixed stanzas), or with delays, upstream,
// draining by NACKs, a strict window and drops.
func fuzzServer(t testing.TB, i int) *Server {
	fuzzOnce.Do(func() {
		common := Config{
			Receipts: true, TrackIDs: true, DeviceRate: 1000, CanonicalRate: 0.3,
			BadRegistration: []string{"bad*"}, Unregistered: []string{"gone?"},
			Nack:                 []NackRule{{"SERVICE_UNAVAILABLE", 0.1}, {"WEIRD_CODE", 0.1}},
			BadRegistrationShare: 0.1, UnregisteredShare: 0.1, Observer: nopObserver{},
		}
		a := common
		a.DrainEvery, a.DrainLinger, a.WireForm = Every{N: 7}, -1, ccs.WirePrefixed
		a.DrainTotal, a.DrainAlternate, a.DrainDeadline = 3, true, time.Millisecond
		a.MaxStanza = 4096
		b := common
		b.AckDelay, b.AckJitter, b.UpstreamRate, b.Keepalive = time.Microsecond, time.Microsecond, 1e6, time.Microsecond
		b.DrainAsNack, b.DrainEvery, b.StrictWindow = true, Every{N: 5}, true
		b.DropEvery, b.DropTotal = Every{N: 40}, 23
		for k, cfg := range []Config{a, b} {
			srv, err := New(cfg)
			if err != nil {
				panic(err)
			}
			fuzzServers[k] = srv
		}
	})
	return fuzzServers[i]
}

// FuzzServerInput feeds arbitrary bytes to a bound connection's stanza
// loop (after the handshake) and checks that it never panics and that
// everything it writes is a well-formed stream of stanzas whose payloads
// are JSON.
func FuzzServerInput(f *testing.F) {
	for _, s := range []string{
		`<message id="1"><gcm xmlns="google:mobile:data">{"to":"a","message_id":"m1","delivery_receipt_requested":true}</gcm></message>`,
		`<message><data:gcm xmlns:data="google:mobile:data">{"to":"bad1","message_id":"m&amp;2","time_to_live":-1}</data:gcm></message>`,
		`<message><gcm xmlns="google:mobile:data"><![CDATA[{"message_type":"ack","to":"gcm.googleapis.com","message_id":"dr2:m1"}]]></gcm></message>`,
		`<message><gcm xmlns="google:mobile:data">{"message_type":"ack","message_id":7}</gcm></message>`,
		`<message id="x"><gcm xmlns="google:mobile:data">not json</gcm></message> `,
		`<iq type="get" id="p"><ping xmlns="urn:xmpp:ping"/></iq><iq type="set" id="q"><query xmlns="x"/></iq>`,
		`<presence/></stream:stream>`,
		`<stream:error><conflict xmlns="urn:ietf:params:xml:ns:xmpp-streams"/></stream:error>`,
		`<message><gcm xmlns="google:mobile:data">{"to":"a","message_id":"m1"}</gcm></message>` +
			`<message><gcm xmlns="google:mobile:data">{"to":"a","message_id":"m1"}</gcm></message>`,
		`<!DOCTYPE x>`, `<a><b><c>`, "\x00\xff",
	} {
		f.Add([]byte(s), false)
		f.Add([]byte(s), true)
	}
	f.Fuzz(func(t *testing.T, input []byte, delayed bool) {
		srv := fuzzServer(t, 0)
		if delayed {
			srv = fuzzServer(t, 1)
		}
		c, mc := memServerConn(t, srv, input)
		obs := &countingObserver{read: map[string]int{}}
		c.obs = obs
		c.run()
		checkOutput(t, mc.out.Bytes())
		checkConnIdentity(t, c)
		obs.check(t, c)
	})
}

// countingObserver checks a connection's events against its counters:
// every message read is reported once, every answer written too, and no
// answer is to an id never read.
type countingObserver struct {
	nopObserver
	reads, answers, flushed, unflushed uint64
	read                               map[string]int
	bad                                string
	ended                              int
}

func (o *countingObserver) Read(id []byte, _ time.Duration, _ uint64) {
	o.reads++
	o.read[string(id)]++
}
func (o *countingObserver) Leftover(id []byte, _ time.Duration) { o.reads++ }
func (o *countingObserver) Answer(id []byte, _ AnswerKind, _ string) {
	o.answers++
	o.unflushed++
	if o.read[string(id)] == 0 && o.bad == "" {
		o.bad = fmt.Sprintf("an answer to %q, never read", id)
	}
}
func (o *countingObserver) Flush(time.Duration, bool)   { o.flushed += o.unflushed; o.unflushed = 0 }
func (o *countingObserver) End(time.Duration, EndCause) { o.ended++ }

func (o *countingObserver) check(t *testing.T, c *conn) {
	t.Helper()
	st := connStats(c)
	written := st.Acks + st.StanzaErrors
	for _, n := range st.Nacks {
		written += n
	}
	if o.reads != st.Received || o.flushed != written || o.ended != 1 || o.bad != "" {
		t.Fatalf("observer: %d read, %d answers written, %d ends, %s; counters: received %d, answers %d",
			o.reads, o.flushed, o.ended, o.bad, st.Received, written)
	}
}

// checkOutput fails unless out is well-formed stanzas (possibly ending
// with the stream's end) whose gcm payloads are JSON objects.
func checkOutput(t *testing.T, out []byte) {
	t.Helper()
	fr := ccs.NewFramer(bytes.NewReader(append([]byte(testHeader), out...)), ccs.FramerConfig{MaxStanza: 1 << 20})
	if _, err := fr.Next(); err != nil {
		t.Fatal(err)
	}
	for {
		st, err := fr.Next()
		if errors.Is(err, io.EOF) {
			return
		}
		if err != nil {
			t.Fatalf("server output is not well-formed: %v\n%q", err, out)
		}
		if st.HasGCM && string(st.Type) != "error" && !json.Valid(st.GCM) {
			t.Fatalf("server payload is not JSON: %q", st.GCM)
		}
	}
}

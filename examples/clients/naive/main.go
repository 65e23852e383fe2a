// Command naive is a CCS client written without any XMPP library: TLS,
// hand-written stanzas and encoding/xml for reading. Without flags it
// behaves correctly; each flag breaks exactly one rule of `ccsbench
// judge`, to show that the judge notices:
//
//	-no-window        sends without the 100-pending limit       (window)
//	-ignore-drain     keeps sending on a draining connection     (drain-moves)
//	-lose-on-drain    forgets the messages of a draining one     (drain-no-loss)
//	-no-upstream-ack  does not ACK upstream messages             (upstream-ack)
//	-no-receipt-ack   does not ACK delivery receipts             (receipt-ack)
//	-retry-now        resends retryable NACKs without backoff    (retry-backoff)
//	-no-retry         gives up on retryable NACKs                (retry-backoff)
//	-retry-final      resends messages NACKed with a final code  (no-retry-final)
//	-no-resend        forgets unanswered messages after a drop   (drop-resend)
//	-resend-acked     resends some messages after their ACK      (no-duplicates)
//	-bad-auth         logs in with a wrong API key               (handshake)
//	-no-bind          sends messages without binding a resource  (handshake)
//
// It reads the judge's environment (CCS_HOST, CCS_PORT, CCS_SENDER_ID,
// CCS_API_KEY, CCS_CA_FILE, CCS_MESSAGES, CCS_RATE, CCS_RECEIPTS,
// CCS_SCENARIO) and exits 0 when every message it still cares about has a
// final answer, 1 when it gives up or is stopped (SIGTERM, SIGINT), 2 on
// bad usage.
//
// One goroutine per connection reads and parses stanzas into events; the
// main loop owns all other state and does all writing.
package main

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/xml"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var (
	noWindow      = flag.Bool("no-window", false, "send without the 100-pending limit")
	ignoreDrain   = flag.Bool("ignore-drain", false, "keep sending on a draining connection")
	loseOnDrain   = flag.Bool("lose-on-drain", false, "forget the messages pending on a draining connection")
	noUpstreamAck = flag.Bool("no-upstream-ack", false, "do not ACK upstream messages")
	noReceiptAck  = flag.Bool("no-receipt-ack", false, "do not ACK delivery receipts")
	retryNow      = flag.Bool("retry-now", false, "resend SERVICE_UNAVAILABLE at once, without backoff")
	noRetry       = flag.Bool("no-retry", false, "treat retryable NACKs as final")
	retryFinal    = flag.Bool("retry-final", false, "resend messages NACKed with a final code")
	noResend      = flag.Bool("no-resend", false, "forget unanswered messages when a connection drops")
	resendAcked   = flag.Bool("resend-acked", false, "resend every tenth message 1.2 s after its ACK")
	badAuth       = flag.Bool("bad-auth", false, "log in with a wrong API key")
	noBind        = flag.Bool("no-bind", false, "send messages without binding a resource")
)

const (
	window   = 100
	maxTries = 5 // connections in a row that fail before any answer
)

// msg is one downstream message.
type msg struct {
	n, tries int
	id       string
	on       *conn // waiting for an answer there
	backoff  time.Duration
	acked    bool
}

// conn is one CCS connection.
type conn struct {
	tc       *tls.Conn
	dec      *xml.Decoder
	w        *bufio.Writer
	pending  map[string]*msg
	draining bool
	answered bool
}

// event is what a reader or a timer tells the main loop.
type event struct {
	c                       *conn
	kind                    string // ack nack control upstream receipt error ping end connected dialfail retry
	id, from, code, control string
	m                       *msg
	err                     error
}

// client is the whole client: its configuration, its connections and the
// messages it still cares about, owned by the main loop (run).
type client struct {
	addr, sender, key, prefix string
	tlsCfg                    *tls.Config
	total                     int
	rate                      float64
	receipts                  bool

	events  chan event
	open    map[string]*msg // messages without a final answer
	ready   []*msg
	made    int
	current *conn
	conns   map[*conn]bool
	dialing bool
	failed  int
}

// main reads the flags and the environment, runs the client and exits
// 0 when every message has a final answer, 1 when it gave up, 2 on bad
// usage.
func main() {
	flag.Parse()
	log.SetFlags(log.Lmicroseconds)
	c, err := fromEnv()
	if err != nil {
		log.Printf("configuration: %v", err)
		os.Exit(2)
	}
	if err := c.run(); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// fromEnv makes the client from the judge contract's environment.
func fromEnv() (*client, error) {
	host := os.Getenv("CCS_HOST")
	c := &client{
		addr:     net.JoinHostPort(host, os.Getenv("CCS_PORT")),
		sender:   os.Getenv("CCS_SENDER_ID"),
		key:      os.Getenv("CCS_API_KEY"),
		prefix:   fmt.Sprintf("naive-%06x-", rand.Uint32()&0xffffff),
		tlsCfg:   &tls.Config{ServerName: host},
		receipts: os.Getenv("CCS_RECEIPTS") == "1",
		events:   make(chan event, 1024),
		open:     map[string]*msg{},
		conns:    map[*conn]bool{},
	}
	log.SetPrefix("naive " + os.Getenv("CCS_SCENARIO") + ": ")
	var err error
	if c.total, err = strconv.Atoi(os.Getenv("CCS_MESSAGES")); err != nil || c.total < 0 {
		return nil, fmt.Errorf("CCS_MESSAGES=%q: want a count", os.Getenv("CCS_MESSAGES"))
	}
	if r := os.Getenv("CCS_RATE"); r != "" {
		if c.rate, err = strconv.ParseFloat(r, 64); err != nil || c.rate < 0 {
			return nil, fmt.Errorf("CCS_RATE=%q: want messages per second", r)
		}
	}
	if f := os.Getenv("CCS_CA_FILE"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return nil, err
		}
		c.tlsCfg.RootCAs = x509.NewCertPool()
		c.tlsCfg.RootCAs.AppendCertsFromPEM(pem)
	}
	if *badAuth {
		c.key += "-wrong"
	}
	return c, nil
}

// run is the main loop: it paces new messages, handles the readers'
// events and ends when every message has a final answer, or on a signal.
func (c *client) run() error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, os.Interrupt)
	start := time.Now()
	pace := time.NewTimer(0)
	for {
		if c.made == c.total && len(c.open) == 0 {
			c.closeAll()
			log.Printf("done: %d messages", c.total)
			return nil
		}
		if c.failed >= maxTries {
			c.closeAll()
			return fmt.Errorf("giving up after %d failed connections", c.failed)
		}
		if c.current == nil && !c.dialing {
			c.dialing = true
			go c.dial(c.failed)
		}
		if wait := c.fill(start); wait > 0 {
			pace.Reset(wait)
		}
		for k := range c.conns {
			k.w.Flush()
		}
		select {
		case ev := <-c.events:
			c.handle(ev)
		case <-pace.C:
		case <-sig:
			c.closeAll()
			return fmt.Errorf("stopped with %d messages unanswered", c.total-c.made+len(c.open))
		}
	}
}

// fill sends what the window of the current connection allows; it
// returns how long to wait for the next new message when paced.
func (c *client) fill(start time.Time) time.Duration {
	k := c.current
	if k == nil {
		return 0
	}
	for *noWindow || len(k.pending) < window {
		var m *msg
		switch {
		case len(c.ready) > 0:
			m, c.ready = c.ready[0], c.ready[1:]
			if m.acked && !*resendAcked || c.open[m.id] == nil {
				continue
			}
		case c.made < c.total:
			if c.rate > 0 {
				if d := time.Until(start.Add(time.Duration(float64(c.made) / c.rate * 1e9))); d > 0 {
					return d
				}
			}
			m = &msg{n: c.made, id: c.prefix + strconv.Itoa(c.made)}
			c.made++
			c.open[m.id] = m
		default:
			return 0
		}
		m.on = k
		k.pending[m.id] = m
		receipt := ""
		if c.receipts {
			receipt = `,"delivery_receipt_requested":true`
		}
		c.send(k, fmt.Sprintf(`{"to":"device-%d","message_id":"%s","data":{"n":"%d"}%s}`, m.n%1000, m.id, m.n, receipt))
	}
	return 0
}

// send writes one stanza carrying JSON (escaped for XML here).
func (c *client) send(k *conn, json string) {
	fmt.Fprintf(k.w, `<message id=""><gcm xmlns="google:mobile:data">%s</gcm></message>`, escape(json))
}

// escape escapes s as XML character data.
func escape(s string) string {
	var b strings.Builder
	xml.EscapeText(&b, []byte(s))
	return b.String()
}

// ack ACKs the upstream message or receipt id from to on k.
func (c *client) ack(k *conn, to, id string) {
	b, _ := json.Marshal(map[string]string{"to": to, "message_id": id, "message_type": "ack"})
	c.send(k, string(b))
}

// handle acts on one event of a reader.
func (c *client) handle(ev event) {
	k := ev.c
	if k != nil && ev.kind != "connected" && ev.kind != "end" {
		k.answered = true
		c.failed = 0
	}
	switch ev.kind {
	case "connected":
		c.dialing = false
		c.current = k
		c.conns[k] = true
		go c.read(k)
	case "dialfail":
		c.dialing = false
		c.failed++
		log.Printf("connect: %v", ev.err)
		if errors.Is(ev.err, errRefused) {
			c.failed = maxTries // wrong credentials do not get better
		}
	case "ack", "error":
		if m := k.pending[ev.id]; m != nil {
			delete(k.pending, ev.id)
			m.on = nil
			if *resendAcked && ev.kind == "ack" && m.n%10 == 0 && !m.acked {
				m.acked = true // the bug: a timer resends it although it was ACKed
				c.after(1200*time.Millisecond, m)
				return
			}
			delete(c.open, ev.id)
		}
	case "nack":
		c.nack(k, ev)
	case "control":
		if ev.control == "CONNECTION_DRAINING" {
			c.drain(k)
		}
	case "upstream":
		if !*noUpstreamAck {
			c.ack(k, ev.from, ev.id)
		}
	case "receipt":
		if !*noReceiptAck {
			c.ack(k, ev.from, ev.id)
		}
	case "ping":
		fmt.Fprintf(k.w, `<iq type="result" id="%s"/>`, escape(ev.id))
	case "retry":
		if c.open[ev.m.id] != nil {
			c.ready = append(c.ready, ev.m)
		}
	case "end":
		c.ended(k, ev.err)
	}
}

// after queues m for sending again after d.
func (c *client) after(d time.Duration, m *msg) {
	time.AfterFunc(d, func() { c.events <- event{kind: "retry", m: m} })
}

// nack acts on a NACK: a retry after a backoff, a move to another
// connection, or a final answer.
func (c *client) nack(k *conn, ev event) {
	m := k.pending[ev.id]
	if m == nil {
		return
	}
	delete(k.pending, ev.id)
	m.on = nil
	switch ev.code {
	case "CONNECTION_DRAINING":
		c.drain(k)
		if *loseOnDrain {
			delete(c.open, m.id)
			return
		}
		c.ready = append([]*msg{m}, c.ready...)
	case "SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR":
		m.tries++
		switch {
		case *noRetry, ev.code == "INTERNAL_SERVER_ERROR" && m.tries > 5:
			delete(c.open, m.id)
		case *retryNow:
			c.ready = append(c.ready, m)
		default:
			m.backoff = min(max(2*m.backoff, time.Second), 30*time.Second)
			c.after(m.backoff+time.Duration(rand.Int64N(int64(m.backoff/5))), m)
		}
	default:
		if *retryFinal && m.tries < 2 {
			m.tries++
			c.ready = append(c.ready, m)
			return
		}
		delete(c.open, m.id)
	}
}

// drain stops sending on k: new messages go to a new connection.
func (c *client) drain(k *conn) {
	if *ignoreDrain || k.draining {
		return
	}
	k.draining = true
	if c.current == k {
		c.current = nil
	}
	if *loseOnDrain {
		for id := range k.pending {
			delete(c.open, id)
		}
		clear(k.pending)
	}
}

// ended handles the end of a connection: unanswered messages are sent
// again on another one.
func (c *client) ended(k *conn, err error) {
	if !errors.Is(err, io.EOF) {
		log.Printf("connection ended: %v", err)
	}
	fmt.Fprint(k.w, `</stream:stream>`)
	k.w.Flush()
	k.tc.Close()
	delete(c.conns, k)
	for id, m := range k.pending {
		m.on = nil
		if *noResend {
			delete(c.open, id)
			continue
		}
		c.ready = append(c.ready, m)
	}
	clear(k.pending)
	if c.current == k {
		c.current = nil
	}
	if !k.answered {
		c.failed++
	}
}

// closeAll ends the stream of every connection and waits a little for
// the server to end its own.
func (c *client) closeAll() {
	for k := range c.conns {
		fmt.Fprint(k.w, `</stream:stream>`)
		k.w.Flush()
		k.tc.SetReadDeadline(time.Now().Add(2 * time.Second))
	}
	for len(c.conns) > 0 {
		if ev := <-c.events; ev.kind == "end" {
			delete(c.conns, ev.c)
			ev.c.tc.Close()
		}
	}
}

var errRefused = errors.New("authentication refused")

// dial connects, authenticates and binds, by hand.
func (c *client) dial(failed int) {
	if failed > 0 {
		time.Sleep(min(100*time.Millisecond<<failed, 5*time.Second))
	}
	k, err := c.handshake()
	if err != nil {
		c.events <- event{kind: "dialfail", err: err}
		return
	}
	c.events <- event{kind: "connected", c: k}
}

// handshake dials, opens the stream, authenticates with SASL PLAIN and
// binds a resource.
func (c *client) handshake() (*conn, error) {
	raw, err := net.DialTimeout("tcp", c.addr, 10*time.Second)
	if err != nil {
		return nil, err
	}
	tc := tls.Client(raw, c.tlsCfg)
	tc.SetDeadline(time.Now().Add(10 * time.Second))
	k := &conn{tc: tc, w: bufio.NewWriter(tc), pending: map[string]*msg{}}
	r := bufio.NewReader(tc)
	fail := func(err error) (*conn, error) { tc.Close(); return nil, err }
	header := `<stream:stream to="gcm.googleapis.com" version="1.0" xmlns="jabber:client" xmlns:stream="http://etherx.jabber.org/streams">`
	creds := base64.StdEncoding.EncodeToString([]byte("\x00" + c.sender + "@gcm.googleapis.com\x00" + c.key))
	if _, err := io.WriteString(tc, header+`<auth mechanism="PLAIN" xmlns="urn:ietf:params:xml:ns:xmpp-sasl">`+creds+`</auth>`); err != nil {
		return fail(err)
	}
	d := xml.NewDecoder(r)
	for {
		start, err := nextStart(d)
		if err != nil {
			return fail(err)
		}
		if start.Name.Local == "failure" {
			return fail(errRefused)
		}
		if start.Name.Local == "success" {
			break
		}
		if start.Name.Local != "stream" {
			d.Skip()
		}
	}
	// Restart the stream on the same reader, then bind.
	bind := `<iq type="set" id="bind1"><bind xmlns="urn:ietf:params:xml:ns:xmpp-bind"/></iq>`
	if *noBind {
		bind = ""
	}
	if _, err := io.WriteString(tc, header+bind); err != nil {
		return fail(err)
	}
	d = xml.NewDecoder(r)
	for !*noBind {
		start, err := nextStart(d)
		if err != nil {
			return fail(err)
		}
		if start.Name.Local == "iq" {
			var iq struct {
				Type string `xml:"type,attr"`
			}
			d.DecodeElement(&iq, &start)
			if iq.Type != "result" {
				return fail(errors.New("bind refused"))
			}
			break
		}
		if start.Name.Local != "stream" {
			d.Skip()
		}
	}
	tc.SetDeadline(time.Time{})
	k.dec = d
	return k, nil
}

// nextStart returns the next start element d reads.
func nextStart(d *xml.Decoder) (xml.StartElement, error) {
	for {
		t, err := d.Token()
		if err != nil {
			return xml.StartElement{}, err
		}
		if s, ok := t.(xml.StartElement); ok {
			return s, nil
		}
	}
}

// read parses stanzas of k into events until the connection ends.
func (c *client) read(k *conn) {
	d := k.dec
	for {
		t, err := d.Token()
		if err != nil {
			c.events <- event{kind: "end", c: k, err: err}
			return
		}
		if e, ok := t.(xml.EndElement); ok && e.Name.Local == "stream" {
			c.events <- event{kind: "end", c: k, err: io.EOF}
			return
		}
		start, ok := t.(xml.StartElement)
		if !ok {
			continue
		}
		var st struct {
			Type string    `xml:"type,attr"`
			ID   string    `xml:"id,attr"`
			GCM  string    `xml:"google:mobile:data gcm"`
			Ping *struct{} `xml:"urn:xmpp:ping ping"`
			Err  *struct{} `xml:"error"`
		}
		if err := d.DecodeElement(&st, &start); err != nil {
			c.events <- event{kind: "end", c: k, err: err}
			return
		}
		switch {
		case start.Name.Local == "iq" && st.Ping != nil && st.Type == "get":
			c.events <- event{kind: "ping", c: k, id: st.ID}
		case start.Name.Local == "error":
			c.events <- event{kind: "end", c: k, err: errors.New("stream error")}
			return
		case start.Name.Local == "message" && st.GCM != "":
			var j struct {
				Type    string `json:"message_type"`
				ID      string `json:"message_id"`
				From    string `json:"from"`
				Error   string `json:"error"`
				Control string `json:"control_type"`
			}
			if json.Unmarshal([]byte(st.GCM), &j) != nil {
				continue
			}
			kind := j.Type
			switch {
			case st.Type == "error":
				kind = "error"
			case kind == "":
				kind = "upstream"
			}
			c.events <- event{kind: kind, c: k, id: j.ID, from: j.From, code: j.Error, control: j.Control}
		}
	}
}

// Command mellium is a small but complete CCS app server built on the XMPP
// library mellium.im/xmpp. It is meant to be copied: replace the messages
// it makes up with your own, and keep the protocol handling.
//
// It follows the contract of `ccsbench judge`, which starts a fake CCS
// server and runs a client with this environment:
//
//	CCS_HOST, CCS_PORT          where the server listens (TLS from the first byte)
//	CCS_SENDER_ID, CCS_API_KEY  credentials (SASL PLAIN, SENDER@gcm.googleapis.com)
//	CCS_CA_FILE                 PEM certificate(s) to trust (optional)
//	CCS_MESSAGES                send exactly this many unique downstream messages
//	CCS_RATE                    new messages per second (0: as fast as possible)
//	CCS_RECEIPTS                1: ask for delivery receipts
//	CCS_SCENARIO                a name for the logs
//
// What the protocol asks of an app server, and where this program does it:
//
//   - At most 100 unanswered messages per connection (send).
//   - Every upstream message and delivery receipt is ACKed on the
//     connection it came on, with "to" set to its "from" and its
//     message_id unchanged, whatever the window (onGCM).
//   - CONNECTION_DRAINING (a control message or a NACK code): nothing new
//     on that connection; a new connection is opened at once and new and
//     NACKed messages go there, while the old one is still read and its
//     upstream messages ACKed until the server closes it (drain, loop).
//   - A connection that ends with messages unanswered: they are all sent
//     again on a new connection (closed).
//   - SERVICE_UNAVAILABLE and INTERNAL_SERVER_ERROR (and unknown codes) are
//     resent after an exponential backoff from 1 s with jitter, at most
//     maxRetries times for INTERNAL_SERVER_ERROR; other codes are final and
//     never resent; nothing is resent after its ACK (onNack).
//
// It exits 0 once every message has a final answer (ACK, final NACK or
// stanza error), 1 when it gives up (connections keep failing, or a
// message exhausted its retries) or is stopped by SIGTERM or SIGINT first,
// and 2 on a bad environment. Stopping closes its streams cleanly.
package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"net"
	"os"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"mellium.im/sasl"
	"mellium.im/xmlstream"
	"mellium.im/xmpp"
	"mellium.im/xmpp/jid"
	"mellium.im/xmpp/mux"
	"mellium.im/xmpp/ping"
	"mellium.im/xmpp/stanza"
)

const (
	window         = 100                    // unanswered messages per connection
	firstBackoff   = time.Second            // first resend delay after SERVICE_UNAVAILABLE
	maxBackoff     = 30 * time.Second       // longest resend delay
	maxRetries     = 5                      // resends after INTERNAL_SERVER_ERROR or an unknown code
	maxDialErrors  = 8                      // consecutive failed connects before giving up
	dialTimeout    = 10 * time.Second       // one connect, TLS and XMPP handshake
	closeTimeout   = 2 * time.Second        // wait for the server's end of stream when stopping
	ccsDomain      = "gcm.googleapis.com"   // the XMPP domain, whatever host is dialled
	gcmNamespace   = "google:mobile:data"   // namespace of the <gcm> payload element
	registrationID = "device-registration-" // made-up registration ids (a real server has its own)
)

// main reads the environment, runs the app server until every message
// has a final answer, and exits 0, or 1 when it gave up, 2 on bad usage.
func main() {
	log.SetFlags(log.Lmicroseconds)
	cfg, err := configFromEnv()
	if err != nil {
		log.Printf("configuration: %v", err)
		os.Exit(2)
	}
	log.SetPrefix(cfg.scenario + ": ")
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	a := newApp(cfg)
	if err := a.run(ctx); err != nil {
		log.Print(err)
		os.Exit(1)
	}
}

// config is the judge contract's environment.
type config struct {
	addr, sender, apiKey, scenario string
	tls                            *tls.Config
	messages                       int
	rate                           float64
	receipts                       bool
}

// configFromEnv reads the judge contract's environment.
func configFromEnv() (config, error) {
	c := config{
		addr:     net.JoinHostPort(os.Getenv("CCS_HOST"), os.Getenv("CCS_PORT")),
		sender:   os.Getenv("CCS_SENDER_ID"),
		apiKey:   os.Getenv("CCS_API_KEY"),
		scenario: os.Getenv("CCS_SCENARIO"),
		receipts: os.Getenv("CCS_RECEIPTS") == "1",
		tls:      &tls.Config{ServerName: os.Getenv("CCS_HOST"), MinVersion: tls.VersionTLS12},
	}
	if c.scenario == "" {
		c.scenario = "ccs"
	}
	if os.Getenv("CCS_HOST") == "" || os.Getenv("CCS_PORT") == "" || c.sender == "" || c.apiKey == "" {
		return c, errors.New("CCS_HOST, CCS_PORT, CCS_SENDER_ID and CCS_API_KEY are required")
	}
	var err error
	if c.messages, err = strconv.Atoi(os.Getenv("CCS_MESSAGES")); err != nil || c.messages < 0 {
		return c, fmt.Errorf("CCS_MESSAGES=%q: want a count", os.Getenv("CCS_MESSAGES"))
	}
	if r := os.Getenv("CCS_RATE"); r != "" {
		if c.rate, err = strconv.ParseFloat(r, 64); err != nil || c.rate < 0 {
			return c, fmt.Errorf("CCS_RATE=%q: want messages per second", r)
		}
	}
	if f := os.Getenv("CCS_CA_FILE"); f != "" {
		pem, err := os.ReadFile(f)
		if err != nil {
			return c, err
		}
		c.tls.RootCAs = x509.NewCertPool()
		if !c.tls.RootCAs.AppendCertsFromPEM(pem) {
			return c, fmt.Errorf("CCS_CA_FILE %s: no certificate", f)
		}
	}
	return c, nil
}

// message is one downstream message until its final answer.
type message struct {
	id      string
	payload []byte        // the JSON sent inside <gcm>
	on      *connection   // the connection it waits for an answer on; nil otherwise
	retries int           // resends after SERVICE_UNAVAILABLE or INTERNAL_SERVER_ERROR
	backoff time.Duration // the last resend delay
}

// connection is one XMPP session to CCS.
type connection struct {
	s        *xmpp.Session
	pending  map[string]*message // sent here and not answered yet (at most window)
	draining bool                // CONNECTION_DRAINING seen: send nothing new here
	answered bool                // the server sent something on it
	done     chan struct{}       // closed when the session has ended
}

// app holds all state under one mutex: the sender goroutine (loop) and one
// reader goroutine per connection (its Serve handler) share it.
type app struct {
	cfg    config
	prefix string // message ids are prefix + a counter

	mu       sync.Mutex
	made     int                  // messages created so far
	unfinal  map[string]*message  // every created message without a final answer
	ready    []*message           // to send now: resends first, in order
	current  *connection          // where new messages go; nil while (re)connecting
	conns    map[*connection]bool // every open connection, draining ones included
	outcomes map[string]int       // final answers by kind ("ACK", "NACK BAD_REGISTRATION", ...)
	gaveUp   int                  // messages that exhausted their retries
	dialing  bool
	dialErrs int // consecutive failed connects, and connections that died unused
	fatal    error
	wake     chan struct{}
}

// newApp returns an app server for cfg, not yet connected.
func newApp(cfg config) *app {
	return &app{
		cfg:      cfg,
		prefix:   fmt.Sprintf("m-%06x-", rand.Uint32()&0xffffff),
		unfinal:  map[string]*message{},
		outcomes: map[string]int{},
		conns:    map[*connection]bool{},
		wake:     make(chan struct{}, 1),
	}
}

// poke wakes the sender loop.
func (a *app) poke() {
	select {
	case a.wake <- struct{}{}:
	default:
	}
}

// run sends every message and waits for their answers.
func (a *app) run(ctx context.Context) error {
	start := time.Now()
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		a.mu.Lock()
		if a.fatal != nil || a.made == a.cfg.messages && len(a.unfinal) == 0 {
			err, outcomes := a.fatal, a.outcomes
			if err == nil && a.gaveUp > 0 {
				err = fmt.Errorf("gave up on %d messages after %d retries", a.gaveUp, maxRetries)
			}
			a.mu.Unlock()
			a.closeAll()
			if err == nil {
				log.Printf("all %d messages answered: %v", a.cfg.messages, outcomes)
			}
			return err
		}
		// Open a connection at once when there is none to send on (at
		// the start, after a drop, on draining).
		if a.current == nil && !a.dialing {
			a.dialing = true
			go a.connect(ctx)
		}
		batch, c, wait := a.take(start)
		a.mu.Unlock()

		for _, m := range batch {
			if err := c.s.Send(ctx, gcmStanza(m.payload)); err != nil {
				// The reader sees the connection end and resends
				// what is pending on it.
				break
			}
		}
		if wait > 0 {
			timer.Reset(wait)
		}
		select {
		case <-ctx.Done():
			a.closeAll()
			a.mu.Lock()
			n := len(a.unfinal) + a.cfg.messages - a.made
			a.mu.Unlock()
			return fmt.Errorf("stopped with %d of %d messages unanswered", n, a.cfg.messages)
		case <-a.wake:
		case <-timer.C:
		}
	}
}

// take picks the messages to send now on the current connection, as the
// window allows, and says how long to wait for the pacer otherwise.
// Called with a.mu held.
func (a *app) take(start time.Time) (batch []*message, c *connection, wait time.Duration) {
	c = a.current
	if c == nil {
		return nil, nil, 0
	}
	for len(c.pending) < window {
		var m *message
		switch {
		case len(a.ready) > 0:
			m, a.ready = a.ready[0], a.ready[1:]
		case a.made < a.cfg.messages:
			if a.cfg.rate > 0 {
				due := start.Add(time.Duration(float64(a.made) / a.cfg.rate * float64(time.Second)))
				if d := time.Until(due); d > 0 {
					return batch, c, d
				}
			}
			m = a.newMessage()
		default:
			return batch, c, 0
		}
		m.on = c
		c.pending[m.id] = m
		batch = append(batch, m)
	}
	return batch, c, 0
}

// newMessage makes up the next downstream message.
func (a *app) newMessage() *message {
	n := a.made
	a.made++
	m := &message{id: a.prefix + strconv.Itoa(n)}
	m.payload, _ = json.Marshal(map[string]any{
		"to":                         registrationID + strconv.Itoa(n%1000),
		"message_id":                 m.id,
		"time_to_live":               600,
		"delivery_receipt_requested": a.cfg.receipts,
		"data":                       map[string]string{"n": strconv.Itoa(n)},
	})
	a.unfinal[m.id] = m
	return m
}

// connect opens a connection and makes it the current one. It connects
// at once after a connection that worked, and backs off while connecting
// fails or connections die before the server answered anything (a server
// that refuses every connection must not get a reconnect storm).
func (a *app) connect(ctx context.Context) {
	a.mu.Lock()
	delay := 100 * time.Millisecond << min(a.dialErrs, 6)
	wait := a.dialErrs > 0
	a.mu.Unlock()
	for {
		if wait {
			log.Printf("connecting in %v", delay)
			time.Sleep(delay)
			delay = min(2*delay, 5*time.Second)
		}
		wait = true
		c, err := a.dial(ctx)
		a.mu.Lock()
		if err == nil {
			a.dialing = false
			a.current = c
			a.conns[c] = true
			a.mu.Unlock()
			go a.serve(c)
			a.poke()
			return
		}
		a.dialErrs++
		if a.dialErrs >= maxDialErrors || ctx.Err() != nil {
			a.fatal = fmt.Errorf("giving up after %d failed connects: %w", a.dialErrs, err)
			a.dialing = false
			a.mu.Unlock()
			a.poke()
			return
		}
		a.mu.Unlock()
		log.Printf("connect: %v", err)
	}
}

// dial opens TLS from the first byte and negotiates the XMPP session:
// SASL PLAIN, then resource binding.
func (a *app) dial(ctx context.Context) (*connection, error) {
	ctx, cancel := context.WithTimeout(ctx, dialTimeout)
	defer cancel()
	d := tls.Dialer{Config: a.cfg.tls}
	conn, err := d.DialContext(ctx, "tcp", a.cfg.addr)
	if err != nil {
		return nil, err
	}
	origin, err := jid.New(a.cfg.sender, ccsDomain, "")
	if err != nil {
		conn.Close()
		return nil, err
	}
	s, err := xmpp.NewClientSession(ctx, origin, conn,
		xmpp.SASL("", a.cfg.apiKey, plainAs(a.cfg.sender+"@"+ccsDomain)),
		xmpp.BindResource(),
	)
	if err != nil {
		conn.Close()
		return nil, err
	}
	return &connection{s: s, pending: map[string]*message{}, done: make(chan struct{})}, nil
}

// plainAs is SASL PLAIN sending authcid as the user name. CCS documents
// SENDER@gcm.googleapis.com, which does not fit in a JID's localpart (what
// the library's sasl.Plain sends).
func plainAs(authcid string) sasl.Mechanism {
	return sasl.Mechanism{
		Name: "PLAIN",
		Start: func(n *sasl.Negotiator) (bool, []byte, any, error) {
			_, password, _ := n.Credentials()
			return false, []byte("\x00" + authcid + "\x00" + string(password)), nil, nil
		},
		Next: sasl.Plain.Next,
	}
}

// serve reads one connection until it ends: the handler answers pings and
// handles every <gcm> message, ACKs included (they are written on this
// connection even when its window is full).
func (a *app) serve(c *connection) {
	gcm := xml.Name{Space: gcmNamespace, Local: "gcm"}
	h := mux.MessageHandlerFunc(func(msg stanza.Message, t xmlstream.TokenReadEncoder) error {
		return a.onGCM(c, msg, t)
	})
	err := c.s.Serve(mux.New(stanza.NSClient,
		ping.Handle(),
		mux.Message(stanza.NormalMessage, gcm, h),
		mux.Message(stanza.ErrorMessage, gcm, h),
	))
	c.s.Conn().Close()
	a.closed(c, err)
}

// ccsMessage is the JSON inside <gcm> that an app server reads.
type ccsMessage struct {
	MessageType string `json:"message_type"`
	MessageID   string `json:"message_id"`
	From        string `json:"from"`
	Error       string `json:"error"`
	ControlType string `json:"control_type"`
}

// onGCM handles one message stanza with a <gcm> payload.
func (a *app) onGCM(c *connection, msg stanza.Message, t xmlstream.TokenReadEncoder) error {
	var body struct {
		GCM string `xml:"google:mobile:data gcm"` // entities and CDATA decoded
	}
	if err := xml.NewTokenDecoder(t).Decode(&body); err != nil {
		return err
	}
	a.mu.Lock()
	c.answered = true
	a.dialErrs = 0
	a.mu.Unlock()
	var m ccsMessage
	if err := json.Unmarshal([]byte(body.GCM), &m); err != nil {
		log.Printf("ignoring a gcm payload that is not JSON: %v", err)
		return nil
	}
	if msg.Type == stanza.ErrorMessage {
		// A stanza error: the server refused the message for good.
		a.answer(c, m.MessageID, "stanza error")
		return nil
	}
	switch m.MessageType {
	case "", "receipt":
		// An upstream message or a delivery receipt: ACK it here and now,
		// with the message_id exactly as received.
		ack, _ := json.Marshal(map[string]string{"to": m.From, "message_id": m.MessageID, "message_type": "ack"})
		_, err := xmlstream.Copy(t, gcmStanza(ack))
		return err
	case "ack":
		a.answer(c, m.MessageID, "ACK")
	case "nack":
		a.onNack(c, m)
	case "control":
		if m.ControlType == "CONNECTION_DRAINING" {
			a.drain(c)
		}
	}
	return nil
}

// answer records a final answer (ACK, final NACK, stanza error) for id
// on c; answers are only valid on the connection the message waits on.
func (a *app) answer(c *connection, id, outcome string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := c.pending[id]
	if m == nil {
		return
	}
	delete(c.pending, id)
	delete(a.unfinal, id)
	a.outcomes[outcome]++
	a.poke()
}

// onNack handles a NACK by its code.
func (a *app) onNack(c *connection, n ccsMessage) {
	switch n.Error {
	case "CONNECTION_DRAINING":
		a.drain(c)
		a.mu.Lock()
		if m := c.pending[n.MessageID]; m != nil {
			delete(c.pending, m.id)
			m.on = nil
			a.ready = append([]*message{m}, a.ready...) // at once, on the new connection
		}
		a.mu.Unlock()
		a.poke()
	case "SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR":
		a.retryLater(c, n, n.Error == "INTERNAL_SERVER_ERROR")
	case "INVALID_JSON", "BAD_REGISTRATION", "DEVICE_UNREGISTERED", "BAD_ACK",
		"QUOTA_EXCEEDED", "DEVICE_MESSAGE_RATE_EXCEEDED", "TOPICS_MESSAGE_RATE_EXCEEDED":
		a.answer(c, n.MessageID, "NACK "+n.Error)
	default:
		// Unknown codes are handled as INTERNAL_SERVER_ERROR.
		a.retryLater(c, n, true)
	}
}

// retryLater resends a NACKed message after an exponential, jittered
// backoff; bounded ones give up after maxRetries resends.
func (a *app) retryLater(c *connection, n ccsMessage, bounded bool) {
	a.mu.Lock()
	defer a.mu.Unlock()
	m := c.pending[n.MessageID]
	if m == nil {
		return
	}
	delete(c.pending, m.id)
	m.on = nil
	if bounded && m.retries >= maxRetries {
		delete(a.unfinal, m.id)
		a.gaveUp++
		log.Printf("message %s: NACK %s after %d retries (giving up)", m.id, n.Error, m.retries)
		a.poke()
		return
	}
	m.retries++
	m.backoff = min(max(2*m.backoff, firstBackoff), maxBackoff)
	delay := m.backoff + time.Duration(rand.Float64()*0.2*float64(m.backoff))
	time.AfterFunc(delay, func() {
		a.mu.Lock()
		a.ready = append(a.ready, m)
		a.mu.Unlock()
		a.poke()
	})
	a.poke()
}

// drain stops sending on c; the sender loop opens another connection.
func (a *app) drain(c *connection) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if c.draining {
		return
	}
	log.Printf("connection draining: %d messages pending on it", len(c.pending))
	c.draining = true
	if a.current == c {
		a.current = nil
	}
	a.poke()
}

// closed runs when a connection has ended (the server closed it after
// draining, or it dropped): every message still unanswered on it is sent
// again on another connection.
func (a *app) closed(c *connection, err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if len(c.pending) > 0 {
		log.Printf("connection ended (%v): resending %d unanswered messages", err, len(c.pending))
	}
	for _, m := range c.pending {
		m.on = nil
		a.ready = append(a.ready, m)
	}
	clear(c.pending)
	if !c.answered {
		a.dialErrs++
		if a.dialErrs >= maxDialErrors {
			a.fatal = fmt.Errorf("giving up: %d connections in a row ended before any answer (last: %v)", a.dialErrs, err)
		}
	}
	delete(a.conns, c)
	if a.current == c {
		a.current = nil
	}
	close(c.done)
	a.poke()
}

// closeAll ends every stream and waits a little for the server's end of
// stream before the connections are closed.
func (a *app) closeAll() {
	a.mu.Lock()
	conns := make([]*connection, 0, len(a.conns))
	for c := range a.conns {
		conns = append(conns, c)
	}
	a.mu.Unlock()
	for _, c := range conns {
		c.s.SetCloseDeadline(time.Now().Add(closeTimeout))
		c.s.Close()
	}
	for _, c := range conns {
		<-c.done
	}
}

// gcmStanza wraps a JSON payload as CCS wants it:
// <message type="normal"><gcm xmlns="google:mobile:data">JSON</gcm></message>
// (the library adds an id and escapes the text).
func gcmStanza(payload []byte) xml.TokenReader {
	gcm := xml.StartElement{Name: xml.Name{Space: gcmNamespace, Local: "gcm"}}
	return stanza.Message{Type: stanza.NormalMessage}.Wrap(
		xmlstream.Wrap(xmlstream.Token(xml.CharData(payload)), gcm))
}

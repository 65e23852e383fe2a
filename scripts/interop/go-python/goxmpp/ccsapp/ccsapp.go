// Package ccsapp is a small CCS app server written the way app servers were
// written on top of a generic Go XMPP library: the library does the stream,
// SASL and bind; the app writes raw <message><gcm xmlns="google:mobile:data">
// stanzas, reads what comes back, keeps at most 100 messages unanswered per
// connection, ACKs upstream messages and delivery receipts, moves away from a
// draining connection, resends what a lost connection left unanswered and
// retries SERVICE_UNAVAILABLE with a growing backoff.
//
// The library itself is behind Link and Dial, so that the same app runs on
// github.com/xmppo/go-xmpp and on gosrc.io/xmpp. The app follows the
// contract of `ccsbench judge` (the CCS_* environment variables).
package ccsapp

import (
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Window is the most downstream messages a connection may have unanswered.
const Window = 100

// Inbound is one <message> the server sent: its type attribute and the
// character data of its gcm element (the JSON, entities decoded).
type Inbound struct {
	Type string
	JSON string
}

// Link is one bound XMPP connection of the library under test.
type Link interface {
	// SendRaw writes one stanza as it is. It is called from several
	// goroutines.
	SendRaw(stanza string) error
	// Recv blocks for the next message with a gcm element; an error ends
	// the connection.
	Recv() (Inbound, error)
	// Close ends the stream and the connection.
	Close()
}

// Dial opens, authenticates and binds one connection.
type Dial func() (Link, error)

// Config is what the judge's environment asks for.
type Config struct {
	Host, Port, SenderID, APIKey, CAFile, Scenario string
	Messages                                       int
	Rate                                           float64 // messages per second, 0: as fast as possible
	Receipts                                       bool
	Conns                                          int  // connections held at once
	StripReceiptPrefix                             bool // ACK receipts without "dr2:", as go-gcm did
}

// FromEnv reads the judge's contract from the environment. conns is the
// number of connections to hold unless CCS_CONNS says otherwise.
func FromEnv(conns int) (Config, error) {
	c := Config{
		Host: os.Getenv("CCS_HOST"), Port: os.Getenv("CCS_PORT"),
		SenderID: os.Getenv("CCS_SENDER_ID"), APIKey: os.Getenv("CCS_API_KEY"),
		CAFile: os.Getenv("CCS_CA_FILE"), Scenario: os.Getenv("CCS_SCENARIO"),
		Receipts: os.Getenv("CCS_RECEIPTS") == "1", Conns: conns,
	}
	if c.Host == "" || c.Port == "" || c.SenderID == "" {
		return c, errors.New("CCS_HOST, CCS_PORT and CCS_SENDER_ID must be set")
	}
	var err error
	if c.Messages, err = strconv.Atoi(os.Getenv("CCS_MESSAGES")); err != nil || c.Messages < 0 {
		return c, fmt.Errorf("CCS_MESSAGES %q: want a count", os.Getenv("CCS_MESSAGES"))
	}
	if v := os.Getenv("CCS_RATE"); v != "" {
		if c.Rate, err = strconv.ParseFloat(v, 64); err != nil || c.Rate < 0 {
			return c, fmt.Errorf("CCS_RATE %q: want messages per second", v)
		}
	}
	if v := os.Getenv("CCS_CONNS"); v != "" {
		if c.Conns, err = strconv.Atoi(v); err != nil || c.Conns < 1 {
			return c, fmt.Errorf("CCS_CONNS %q: want a count of 1 or more", v)
		}
	}
	return c, nil
}

// TLSConfig returns a TLS configuration that checks the server's
// certificate against serverName and trusts CCS_CA_FILE (or the system's
// roots without one).
func (c Config) TLSConfig(serverName string) (*tls.Config, error) {
	tc := &tls.Config{ServerName: serverName}
	if c.CAFile != "" {
		pem, err := os.ReadFile(c.CAFile)
		if err != nil {
			return nil, err
		}
		tc.RootCAs = x509.NewCertPool()
		if !tc.RootCAs.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("%s: no PEM certificate", c.CAFile)
		}
	}
	return tc, nil
}

// Retry policy for SERVICE_UNAVAILABLE and INTERNAL_SERVER_ERROR.
const (
	firstBackoff = time.Second
	maxBackoff   = 16 * time.Second
	maxRetries   = 6
)

type message struct {
	idx      int
	id       string
	regID    string
	attempts int           // resends after a retryable NACK
	backoff  time.Duration // the last retry wait
	final    bool
}

type conn struct {
	link     Link
	sem      chan struct{} // one token per message in flight
	stop     chan struct{} // closed when the connection drains or ends
	stopOnce sync.Once
	pending  map[string]int // message id -> index, guarded by App.mu
	draining bool
	ended    bool
	answers  int
}

func (c *conn) halt() { c.stopOnce.Do(func() { close(c.stop) }) }

// Counts is what the app saw, printed at exit.
type Counts struct {
	Acked, Nacked, StanzaErrors, Retries, Resends, Drains, Losses, Dials, Upstream, Receipts int
	Nacks                                                                                    map[string]int
}

// App is one run of the client.
type App struct {
	cfg    Config
	dial   Dial
	log    *log.Logger
	mu     sync.Mutex
	msgs   []message
	ready  chan int // new messages, in order
	resend chan int // messages to send again: they go first
	done   chan struct{}
	final  int
	live   map[*conn]bool
	c      Counts
}

// New makes an app over dial.
func New(cfg Config, dial Dial, logger *log.Logger) *App {
	a := &App{cfg: cfg, dial: dial, log: logger, ready: make(chan int, cfg.Messages+1),
		resend: make(chan int, cfg.Messages+1),
		done:   make(chan struct{}), live: map[*conn]bool{}}
	a.c.Nacks = map[string]int{}
	a.msgs = make([]message, cfg.Messages)
	for i := range a.msgs {
		a.msgs[i] = message{idx: i, id: fmt.Sprintf("m%d", i), regID: fmt.Sprintf("reg-%07d", i)}
	}
	return a
}

// Run sends every message and returns once each has a final answer or
// deadline passes.
func (a *App) Run(deadline time.Duration) (Counts, error) {
	if a.cfg.Messages == 0 {
		return a.c, nil
	}
	go a.pace()
	for i := 0; i < a.cfg.Conns; i++ {
		go a.slot(i)
	}
	var err error
	select {
	case <-a.done:
	case <-time.After(deadline):
		err = fmt.Errorf("gave up after %v with %d of %d messages answered", deadline, a.finals(), a.cfg.Messages)
	}
	a.mu.Lock()
	links := make([]*conn, 0, len(a.live))
	for c := range a.live {
		links = append(links, c)
	}
	c := a.c
	a.mu.Unlock()
	var wg sync.WaitGroup
	for _, cn := range links {
		wg.Add(1)
		go func() { defer wg.Done(); cn.link.Close() }()
	}
	waitTimeout(&wg, 3*time.Second)
	return c, err
}

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	ch := make(chan struct{})
	go func() { wg.Wait(); close(ch) }()
	select {
	case <-ch:
	case <-time.After(d):
	}
}

func (a *App) finals() int { a.mu.Lock(); defer a.mu.Unlock(); return a.final }

// pace hands out new messages at the configured rate.
func (a *App) pace() {
	start := time.Now()
	for i := range a.msgs {
		if a.cfg.Rate > 0 {
			due := start.Add(time.Duration(float64(i) / a.cfg.Rate * float64(time.Second)))
			if d := time.Until(due); d > 0 {
				time.Sleep(d)
			}
		}
		a.ready <- i
	}
}

// slot holds one logical connection: it dials, sends until the connection
// drains or ends, and dials again (at once after a drain or after a
// connection that worked, with a growing backoff otherwise).
func (a *App) slot(n int) {
	backoff := time.Duration(0)
	for {
		select {
		case <-a.done:
			return
		default:
		}
		if backoff > 0 {
			time.Sleep(backoff + time.Duration(rand.Int64N(int64(backoff/4)+1)))
		}
		link, err := a.dial()
		a.mu.Lock()
		a.c.Dials++
		a.mu.Unlock()
		if err != nil {
			a.log.Printf("slot %d: dial: %v", n, err)
			backoff = grow(backoff)
			continue
		}
		cn := &conn{link: link, sem: make(chan struct{}, Window), stop: make(chan struct{}), pending: map[string]int{}}
		a.mu.Lock()
		a.live[cn] = true
		a.mu.Unlock()
		go a.read(cn)
		a.send(cn)
		a.mu.Lock()
		drained, answers := cn.draining, cn.answers
		a.mu.Unlock()
		if drained || answers > 0 {
			backoff = 0
		} else {
			backoff = grow(backoff)
		}
	}
}

func grow(d time.Duration) time.Duration {
	if d == 0 {
		return 500 * time.Millisecond
	}
	return min(2*d, 15*time.Second)
}

// send writes messages on cn while its window has room, until it stops.
func (a *App) send(cn *conn) {
	for {
		select {
		case cn.sem <- struct{}{}:
		case <-cn.stop:
			return
		case <-a.done:
			return
		}
		var i int
		select {
		case i = <-a.resend:
		default:
			select {
			case i = <-a.resend:
			case i = <-a.ready:
			case <-cn.stop:
				<-cn.sem
				return
			case <-a.done:
				return
			}
		}
		a.mu.Lock()
		if cn.draining || cn.ended || a.msgs[i].final {
			a.mu.Unlock()
			<-cn.sem
			if !a.msgs[i].final {
				a.resend <- i
			}
			if cn.draining || cn.ended {
				return
			}
			continue
		}
		m := a.msgs[i]
		cn.pending[m.id] = i
		a.mu.Unlock()
		if err := cn.link.SendRaw(a.stanza(m)); err != nil {
			a.log.Printf("send %s: %v", m.id, err)
			cn.halt() // the reader sees the loss and hands the message back
			return
		}
	}
}

func (a *App) stanza(m message) string {
	body := map[string]any{"to": m.regID, "message_id": m.id, "time_to_live": 600,
		"data": map[string]string{"n": m.id, "scenario": a.cfg.Scenario}}
	if a.cfg.Receipts {
		body["delivery_receipt_requested"] = true
	}
	js, _ := json.Marshal(body) // escapes <, > and & as \u00XX: safe as XML text
	// The stanza as go-gcm wrote it: an empty id attribute, the JSON as text.
	return `<message id=""><gcm xmlns="google:mobile:data">` + string(js) + `</gcm></message>`
}

type payload struct {
	MessageType string `json:"message_type"`
	ControlType string `json:"control_type"`
	MessageID   string `json:"message_id"`
	From        string `json:"from"`
	Error       string `json:"error"`
	Category    string `json:"category"`
}

// read handles everything the server sends on cn until it ends.
func (a *App) read(cn *conn) {
	for {
		in, err := cn.link.Recv()
		if err != nil {
			a.lost(cn, err)
			return
		}
		var p payload
		if jerr := json.Unmarshal([]byte(in.JSON), &p); jerr != nil {
			a.log.Printf("unreadable gcm payload (%v): %.200q", jerr, in.JSON)
			continue
		}
		if in.Type == "error" {
			a.answer(cn, p.MessageID, func(m *message) { m.final = true; a.c.StanzaErrors++ })
			continue
		}
		switch p.MessageType {
		case "ack":
			a.answer(cn, p.MessageID, func(m *message) { m.final = true; a.c.Acked++ })
		case "nack":
			a.nack(cn, p)
		case "control":
			if p.ControlType == "CONNECTION_DRAINING" {
				a.drain(cn)
			}
		case "receipt":
			id := p.MessageID
			if a.cfg.StripReceiptPrefix {
				id = strings.TrimPrefix(id, "dr2:")
			}
			a.ack(cn, p.From, id)
			a.mu.Lock()
			a.c.Receipts++
			a.mu.Unlock()
		case "":
			a.ack(cn, p.From, p.MessageID)
			a.mu.Lock()
			a.c.Upstream++
			a.mu.Unlock()
		}
	}
}

func (a *App) ack(cn *conn, to, id string) {
	js, _ := json.Marshal(map[string]string{"message_type": "ack", "to": to, "message_id": id})
	if err := cn.link.SendRaw(`<message id=""><gcm xmlns="google:mobile:data">` + string(js) + `</gcm></message>`); err != nil {
		a.log.Printf("ack %s: %v", id, err)
	}
}

// answer resolves a pending message of cn with outcome, under the lock.
func (a *App) answer(cn *conn, id string, outcome func(*message)) {
	a.mu.Lock()
	defer a.mu.Unlock()
	i, ok := cn.pending[id]
	if !ok {
		a.log.Printf("answer for %q, which is not pending here", id)
		return
	}
	delete(cn.pending, id)
	cn.answers++
	<-cn.sem
	m := &a.msgs[i]
	outcome(m)
	if m.final {
		a.final++
		if a.final == len(a.msgs) {
			close(a.done)
		}
	}
}

func (a *App) nack(cn *conn, p payload) {
	code := p.Error
	if i := strings.IndexAny(code, " :"); i > 0 {
		code = code[:i]
	}
	switch code {
	case "CONNECTION_DRAINING":
		a.drain(cn)
		a.answer(cn, p.MessageID, func(m *message) { a.c.Resends++; a.requeue(m) })
	case "SERVICE_UNAVAILABLE", "INTERNAL_SERVER_ERROR":
		a.answer(cn, p.MessageID, func(m *message) {
			if m.attempts >= maxRetries {
				m.final = true
				a.c.Nacked++
				a.c.Nacks[code]++
				return
			}
			m.attempts++
			if m.backoff == 0 {
				m.backoff = firstBackoff
			} else {
				m.backoff = min(2*m.backoff, maxBackoff)
			}
			a.c.Retries++
			wait := m.backoff + time.Duration(rand.Int64N(int64(m.backoff/10)+1))
			idx := m.idx
			time.AfterFunc(wait, func() { a.resend <- idx })
		})
	default:
		a.answer(cn, p.MessageID, func(m *message) { m.final = true; a.c.Nacked++; a.c.Nacks[code]++ })
	}
}

func (a *App) requeue(m *message) { a.resend <- m.idx }

// drain stops new sends on cn; its slot dials a replacement at once, and
// cn keeps being read until the server closes it.
func (a *App) drain(cn *conn) {
	a.mu.Lock()
	if !cn.draining {
		cn.draining = true
		a.c.Drains++
	}
	a.mu.Unlock()
	cn.halt()
}

// lost hands every unanswered message of cn back for a resend.
func (a *App) lost(cn *conn, err error) {
	a.mu.Lock()
	cn.ended = true
	delete(a.live, cn)
	if !cn.draining {
		a.c.Losses++
	}
	n := len(cn.pending)
	for id, i := range cn.pending {
		delete(cn.pending, id)
		a.c.Resends++
		a.resend <- i
	}
	draining := cn.draining
	a.mu.Unlock()
	cn.halt()
	select {
	case <-a.done:
	default:
		if !draining || n > 0 {
			a.log.Printf("connection ended (draining=%v, %d unanswered sent again): %v", draining, n, err)
		}
	}
}

// Main runs the app and exits: 0 when every message got a final answer.
func Main(name string, conns int, strip bool, dial func(Config) Dial) {
	logger := log.New(os.Stderr, name+": ", log.Lmicroseconds)
	cfg, err := FromEnv(conns)
	if err != nil {
		logger.Fatal(err)
	}
	cfg.StripReceiptPrefix = strip
	start := time.Now()
	c, err := New(cfg, dial(cfg), logger).Run(10 * time.Minute)
	el := time.Since(start).Seconds()
	logger.Printf("scenario=%s messages=%d acked=%d nacked=%d %v stanza_errors=%d retries=%d resends=%d drains=%d losses=%d dials=%d upstream_acked=%d receipts_acked=%d in %.2fs (%.0f acked/s)",
		cfg.Scenario, cfg.Messages, c.Acked, c.Nacked, c.Nacks, c.StanzaErrors, c.Retries, c.Resends, c.Drains, c.Losses, c.Dials, c.Upstream, c.Receipts, el, float64(c.Acked)/el)
	if err != nil {
		logger.Print(err)
		os.Exit(1)
	}
	os.Exit(0)
}

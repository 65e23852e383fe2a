package fakeccs

import (
	"crypto/subtle"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"hash/maphash"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ccsbench/ccsbench/ccs"
)

// ErrClosed is returned by Serve when it is called after Close.
var ErrClosed = errors.New("fakeccs: server closed")

// Server is a fake CCS server. Create it with New, run it with Serve, stop
// it with Close. Its methods are safe for concurrent use.
type Server struct {
	cfg     Config
	tlsCfg  *tls.Config
	certPEM []byte
	pool    *x509.CertPool
	epoch   time.Time // connection clocks count ns from here
	seed    maphash.Seed
	form    ccs.WireForm
	timed   bool // some feature needs per-connection timed work
	// writeTimeout is WriteTimeout (shorter in tests).
	writeTimeout time.Duration

	// The NACK codes the server may send, indexed; counters of a
	// connection follow its fixed counters in this order.
	codes     []string
	retryable []bool
	rules     []rule
	ixInvalidJSON, ixBadRegistration, ixUnregistered,
	ixBadAck, ixRateExceeded, ixDraining int

	ids     *idSet         // nil unless TrackIDs
	devices *deviceLimiter // nil unless DeviceRate > 0

	// total counts downstream messages handled across connections, for
	// DropTotal and DrainTotal; drainsOwed are drains DrainTotal asked
	// for that no connection has taken yet; drainSeq numbers drains, for
	// DrainAlternate.
	total      atomic.Uint64
	drainsOwed atomic.Int64
	drainSeq   atomic.Uint64
	// shareBad and shareAny cut the hash of a registration id (see
	// shareCode): below shareBad BAD_REGISTRATION, below shareAny
	// DEVICE_UNREGISTERED; shareAny 0 is off.
	shareBad, shareAny uint64

	connSeq, upSeq                                                atomic.Uint64
	connections, authFailures, handshakeFailures, preStreamErrors atomic.Uint64

	wakeOnce sync.Once
	wakeStop chan struct{}

	mu      sync.Mutex
	closed  bool
	addr    net.Addr
	lns     map[net.Listener]struct{}
	raws    map[net.Conn]struct{} // every open TCP connection
	conns   map[*conn]struct{}    // bound connections
	idle    sync.Pool             // *conn: closed connections, reset (pool.go)
	totals  []uint64              // counts of closed connections
	senders map[string]*backlog
	wg      sync.WaitGroup
}

// rule is a NackRule resolved against the code table.
type rule struct {
	ix   int
	cum  float64 // a uniform roll below cum (and above the previous) picks it
	desc []byte
}

// New checks cfg and returns a server ready to Serve. With a nil cfg.TLS
// it makes a self-signed certificate (see CertPool and CertPEM).
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	// What a client sends may carry the credentials (a misplaced <auth>):
	// log lines never do.
	cfg.Logf = ccs.NewRedactorSenders(cfg.APIKey, cfg.SenderIDs...).Logf(cfg.Logf)
	s := &Server{
		cfg:     cfg,
		epoch:   time.Now(),
		seed:    maphash.MakeSeed(),
		form:    cfg.WireForm,
		lns:     map[net.Listener]struct{}{},
		raws:    map[net.Conn]struct{}{},
		conns:   map[*conn]struct{}{},
		senders: map[string]*backlog{},

		writeTimeout: WriteTimeout,
	}
	if cfg.TLS != nil {
		s.tlsCfg = cfg.TLS.Clone()
	} else {
		cert, pemBytes, err := selfSigned()
		if err != nil {
			return nil, err
		}
		s.certPEM = pemBytes
		s.pool = x509.NewCertPool()
		s.pool.AddCert(cert.Leaf)
		s.tlsCfg = &tls.Config{
			Certificates: []tls.Certificate{cert},
			MinVersion:   tls.VersionTLS12,
			// Full-size records from the start: the fake is about
			// throughput, and the first bytes' latency does not matter.
			DynamicRecordSizingDisabled: true,
		}
	}
	s.timed = cfg.AckDelay > 0 || cfg.AckJitter > 0 || cfg.Keepalive > 0 || cfg.UpstreamRate > 0 ||
		cfg.Receipts || cfg.DropEvery.D > 0 || !cfg.DrainEvery.IsZero() || cfg.DrainTotal > 0
	if cfg.BadRegistrationShare+cfg.UnregisteredShare > 0 {
		s.shareBad = shareCut(cfg.BadRegistrationShare)
		s.shareAny = shareCut(min(1, cfg.BadRegistrationShare+cfg.UnregisteredShare))
	}
	if cfg.TrackIDs {
		s.ids = newIDSet()
	}
	if cfg.DeviceRate > 0 {
		s.devices = newDeviceLimiter(cfg.DeviceRate)
	}

	index := map[string]int{}
	code := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		index[name] = len(s.codes)
		s.codes = append(s.codes, name)
		s.retryable = append(s.retryable, ccs.ParseNackCode([]byte(name)).Retry() != ccs.Final)
		return len(s.codes) - 1
	}
	for _, c := range ccs.NackCodes {
		code(c.String())
	}
	s.ixInvalidJSON = code("INVALID_JSON")
	s.ixBadRegistration = code("BAD_REGISTRATION")
	s.ixUnregistered = code("DEVICE_UNREGISTERED")
	s.ixBadAck = code("BAD_ACK")
	s.ixRateExceeded = code("DEVICE_MESSAGE_RATE_EXCEEDED")
	s.ixDraining = code("CONNECTION_DRAINING")
	cum := 0.0
	for _, r := range cfg.Nack {
		if r.Rate == 0 {
			continue
		}
		cum += r.Rate
		desc, ok := nackDescriptions[r.Code]
		if !ok {
			desc = "Injected by the fake CCS server (--nack " + r.Code + ")."
		}
		s.rules = append(s.rules, rule{ix: code(r.Code), cum: cum, desc: []byte(desc)})
	}
	s.totals = make([]uint64, numFixed+len(s.codes))
	return s, nil
}

// Config returns the server's configuration with defaults filled in.
func (s *Server) Config() Config { return s.cfg }

// CertPool returns a pool holding the self-signed certificate, for
// clients to trust; nil when Config.TLS was given.
func (s *Server) CertPool() *x509.CertPool { return s.pool }

// CertPEM returns the self-signed certificate in PEM form (for
// --cert-out); nil when Config.TLS was given.
func (s *Server) CertPEM() []byte { return s.certPEM }

// Addr returns the address of the listener given to Serve, or nil before
// Serve.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve accepts connections on ln, a plain TCP listener (the server
// speaks TLS from the first byte), until Close; then it returns nil. It
// returns ErrClosed when called after Close, and other errors of
// ln.Accept that are not temporary.
func (s *Server) Serve(ln net.Listener) error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		ln.Close()
		return ErrClosed
	}
	s.lns[ln] = struct{}{}
	if s.addr == nil {
		s.addr = ln.Addr()
	}
	if s.cfg.AckDelay > 0 || s.cfg.AckJitter > 0 {
		s.wakeOnce.Do(func() {
			s.wakeStop = make(chan struct{})
			s.wg.Add(1)
			go s.wakeLoop(s.wakeStop)
		})
	}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.lns, ln)
		s.mu.Unlock()
	}()

	var backoff time.Duration
	for {
		raw, err := ln.Accept()
		if err != nil {
			if s.isClosed() {
				return nil
			}
			if errors.Is(err, net.ErrClosed) {
				return fmt.Errorf("fakeccs: %w", err) // "accept tcp ADDR: use of closed network connection"
			}
			// EMFILE, ECONNABORTED and the like: wait and go on.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.logf("%v; accepting again in %v", err, backoff)
			time.Sleep(backoff)
			continue
		}
		backoff = 0
		s.mu.Lock()
		if s.closed {
			s.mu.Unlock()
			raw.Close()
			return nil
		}
		s.raws[raw] = struct{}{}
		s.wg.Add(1)
		s.mu.Unlock()
		go s.serveConn(raw)
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Close stops accepting, closes every connection (abruptly: no stream
// end) and waits for their goroutines to finish.
func (s *Server) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		s.wg.Wait()
		return nil
	}
	s.closed = true
	if s.wakeStop != nil {
		close(s.wakeStop)
	}
	for ln := range s.lns {
		ln.Close()
	}
	for raw := range s.raws {
		raw.Close()
	}
	s.mu.Unlock()
	s.wg.Wait()
	return nil
}

func (s *Server) logf(format string, args ...any) {
	if s.cfg.Logf != nil {
		s.cfg.Logf(format, args...)
	}
}

// clockNow returns the monotonic time in ns since the server's epoch.
func (s *Server) clockNow() int64 { return int64(time.Since(s.epoch)) }

// wallMillis converts a clock reading to Unix milliseconds.
func (s *Server) wallMillis(now int64) int64 {
	return s.epoch.Add(time.Duration(now)).UnixMilli()
}

// authenticate checks SASL PLAIN credentials in constant time: the key,
// and the sender id against every one accepted.
func (s *Server) authenticate(identity, password string) bool {
	sender := []byte(ccs.SenderOf(identity))
	okSender := 0
	for _, id := range s.cfg.SenderIDs {
		okSender |= subtle.ConstantTimeCompare(sender, []byte(id))
	}
	okKey := subtle.ConstantTimeCompare([]byte(password), []byte(s.cfg.APIKey))
	if okSender&okKey == 1 {
		return true
	}
	s.authFailures.Add(1)
	return false
}

// secure makes the connection the stream runs on, as Config.TLSMode
// says, before deadline: the TLS connection over in, or in itself.
func (s *Server) secure(in *inConn, deadline time.Time) (net.Conn, error) {
	switch s.cfg.TLSMode {
	case ccs.TLSNone:
		return in, nil
	case ccs.TLSStartTLS:
		return ccs.ServerStartTLS(in, s.tlsCfg, max(time.Until(deadline), time.Millisecond))
	}
	tc := tls.Server(in, s.tlsCfg)
	if err := tc.Handshake(); err != nil {
		return nil, fmt.Errorf("TLS handshake: %w", err)
	}
	return tc, nil
}

// serveConn runs one connection from accept to close.
func (s *Server) serveConn(raw net.Conn) {
	defer s.wg.Done()
	defer func() {
		s.mu.Lock()
		delete(s.raws, raw)
		s.mu.Unlock()
		raw.Close()
	}()
	deadline := time.Now().Add(s.cfg.AuthTimeout)
	raw.SetDeadline(deadline)
	in := newInConn(raw)
	tc, err := s.secure(in, deadline)
	if err != nil {
		s.handshakeFailures.Add(1)
		s.logf("connection from %s: %v", raw.RemoteAddr(), err)
		return
	}
	c := s.newConn(tc, raw)
	c.in.probe = in
	defer s.recycle(c)
	var identity string // as the client sent it, for the Observer
	sc, err := ccs.ServerHandshake(&c.framed, ccs.ServerConfig{
		Authenticate: func(id, password string) bool {
			ok := s.authenticate(id, password)
			if ok {
				identity = id
			}
			return ok
		},
		Timeout: max(time.Until(deadline), time.Millisecond),
		Framer:  ccs.FramerConfig{MaxStanza: s.cfg.MaxStanza, ReadSize: framerReadSize},
		Reuse:   c.in.fr,
	})
	if err != nil {
		var sx *ccs.SyntaxError
		switch {
		case errors.Is(err, ccs.ErrAuthRefused):
		case errors.Is(err, ccs.ErrTimeout), errors.Is(err, ccs.ErrUnexpected), errors.As(err, &sx):
			s.preStreamErrors.Add(1)
			s.handshakeFailures.Add(1)
		default:
			s.handshakeFailures.Add(1)
		}
		s.logf("connection from %s: %v", raw.RemoteAddr(), err) // a *ccs.HandshakeError
		return
	}
	c.in.fr = sc.Framer
	c.jid = []byte(sc.JID)
	if s.cfg.UpstreamRate > 0 || s.cfg.Receipts {
		c.up.toAttr = ccs.AppendAttrEscaped(nil, []byte(sc.SenderID+"@"+sc.Domain))
		c.up.backlog = s.senderBacklog(sc.SenderID)
	}

	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return
	}
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.connections.Add(1)
	if s.cfg.Observer != nil {
		c.obs = s.cfg.Observer.Bind(ConnInfo{Seq: c.seq, At: time.Duration(s.clockNow()),
			Identity: identity, Domain: sc.Domain, Remote: raw.RemoteAddr()})
		c.tm.clock = c.tm.clock || c.obs != nil // events carry the time of the read
	}

	c.run()

	s.mu.Lock()
	delete(s.conns, c)
	for i := range c.pub {
		s.totals[i] += c.pub[i].Load()
	}
	s.mu.Unlock()
}

// Package fakeccstest runs a fake CCS server on a loopback port for tests,
// as net/http/httptest does for HTTP: one call starts it, the test's
// cleanup stops it and checks that the fake accounted for every message
// it read.
//
//	srv := fakeccstest.Start(t, fakeccs.Config{TrackIDs: true})
//	c, err := ccs.Dial(ctx, srv.Addr(), ccs.ClientConfig{
//		SenderID: srv.Config().SenderID, APIKey: srv.Config().APIKey, TLS: srv.ClientTLS()})
package fakeccstest

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"sync"
	"testing"

	"github.com/ccsbench/ccsbench/fakeccs"
)

// Server is a fake CCS server serving on a loopback port. The embedded
// *fakeccs.Server gives its configuration, certificate and stats.
type Server struct {
	*fakeccs.Server
	ln     net.Listener
	served chan error

	once    sync.Once
	final   fakeccs.Stats
	stopErr error
}

// NewServer starts a fake with cfg on 127.0.0.1 at a free port and
// returns once it accepts connections. The caller must Close it.
func NewServer(cfg fakeccs.Config) (*Server, error) {
	fs, err := fakeccs.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("fakeccstest: %w", err) // "listen tcp 127.0.0.1:0: ..."
	}
	s := &Server{Server: fs, ln: ln, served: make(chan error, 1)}
	go func() { s.served <- fs.Serve(ln) }()
	return s, nil
}

// Start is NewServer for a test: a failure to start fails t at once, and
// when t ends the server is closed and t fails unless Serve ended cleanly
// and the fake's accounting identity holds (every message read has one
// outcome).
func Start(t testing.TB, cfg fakeccs.Config) *Server {
	t.Helper()
	s, err := NewServer(cfg)
	if err != nil {
		t.Fatalf("fakeccstest: %v", err)
	}
	t.Cleanup(func() {
		if _, err := s.Close(); err != nil {
			t.Error(err)
		}
	})
	return s
}

// Addr returns the host:port the server listens on.
func (s *Server) Addr() string { return s.ln.Addr().String() }

// ClientTLS returns a client TLS configuration that trusts the server's
// self-signed certificate; nil when the server was given its own TLS
// configuration (Config.TLS).
func (s *Server) ClientTLS() *tls.Config {
	pool := s.CertPool()
	if pool == nil {
		return nil
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
}

// ErrServe is wrapped by Close's error when Serve ended with an error.
var ErrServe = errors.New("fakeccstest: Serve failed")

// Close stops the server, closing every connection, and returns its final
// stats. The error tells when Serve had failed or when the accounting
// identity does not hold (wrapping fakeccs.ErrIdentity). Later calls
// return the same.
func (s *Server) Close() (fakeccs.Stats, error) {
	s.once.Do(func() {
		_ = s.Server.Close()
		if err := <-s.served; err != nil {
			s.stopErr = fmt.Errorf("%w: %w", ErrServe, err)
		}
		s.final = s.Stats()
		if err := s.final.CheckIdentity(); err != nil {
			s.stopErr = errors.Join(s.stopErr, err)
		}
	})
	return s.final, s.stopErr
}

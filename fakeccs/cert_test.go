package fakeccs

import (
	"crypto/tls"
	"testing"

	"github.com/ccsbench/ccsbench/ccs"
)

// A client with the CCS endpoint built in (go-gcm dialled
// gcm.googleapis.com:5235 through go-xmpp, whose TLS check uses that name)
// reaches the fake only by resolving that name to it, and XMPP libraries
// such as Smack check the certificate against the XMPP domain, not the host
// dialled. Either way the self-signed certificate, trusted through
// --cert-out / CCS_CA_FILE, must carry the CCS names as well as loopback.
func TestSelfSignedCertificateNamesCCSEndpoints(t *testing.T) {
	t.Parallel()
	srv := startServer(t, Config{})
	for _, name := range []string{
		"localhost", "127.0.0.1",
		"gcm.googleapis.com", "gcm-preprod.googleapis.com", "gcm-staging.googleapis.com",
		"gcm-xmpp.googleapis.com", "fcm-xmpp.googleapis.com", "fcm.googleapis.com",
	} {
		c := dialWith(t, srv, func(cfg *ccs.ClientConfig) {
			cfg.TLS = &tls.Config{RootCAs: srv.CertPool(), ServerName: name}
		})
		c.send(msg("n-" + name))
		wantAck(t, c.next(), "n-"+name)
	}
}

package fakeccs

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"time"
)

// ccsNames are the host names of the CCS service (endpoints and XMPP
// domains). The self-signed certificate carries them so that a client
// trusting it can reach the fake under the name it was built for: clients
// with the endpoint written in (go-gcm) get there by resolving the name to
// the fake, and XMPP libraries such as Smack check the certificate against
// the XMPP domain rather than the host they dialled. The certificate is
// trusted only where a user hands it over (--cert-out, CCS_CA_FILE) and its
// key never leaves the process.
var ccsNames = []string{
	"gcm.googleapis.com", "gcm-preprod.googleapis.com", "gcm-staging.googleapis.com",
	"gcm-xmpp.googleapis.com", "fcm-xmpp.googleapis.com", "fcm.googleapis.com",
}

// selfSigned makes an ECDSA P-256 certificate for 127.0.0.1, ::1,
// localhost and the CCS names, valid from an hour ago for a year, and
// returns it with its PEM encoding.
func selfSigned() (tls.Certificate, []byte, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("fakeccs: generating key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("fakeccs: generating serial: %w", err)
	}
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "fakeccs", Organization: []string{"ccsbench fake CCS server"}},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(365 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		DNSNames:              append([]string{"localhost"}, ccsNames...),
		IPAddresses:           []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("fakeccs: creating certificate: %w", err)
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return tls.Certificate{}, nil, fmt.Errorf("fakeccs: parsing certificate: %w", err)
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	return cert, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), nil
}

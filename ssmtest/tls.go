package ssmtest

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
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
)

// DefaultHostname is a name a test can give the server instead of its loopback address ([Options.Hostname]),
// for example in /etc/hosts ("127.0.0.1 ssmtest.internal"): Go and most programs never send requests for
// localhost or a loopback IP address through an HTTP proxy, so a test of a proxy needs a name that is neither.
// Every TLS certificate of the server names it.
const DefaultHostname = "ssmtest.internal"

// TLSOptions shape the certificate a TLS server ([NewTLSServer]) presents. The zero value is a valid
// certificate for the server's names.
type TLSOptions struct {
	// Names are the certificate's subject alternative names, DNS names or IP addresses. Default: localhost,
	// 127.0.0.1, ::1, [DefaultHostname] and [Options.Hostname]. A test of a client's name check names others.
	Names []string
	// NotAfter ends the certificate's validity. Default: a day from now. A time in the past makes an expired
	// certificate, for a test of a client's error.
	NotAfter time.Time
}

// tlsState is the server's CA and certificate, made at StartTLS.
type tlsState struct {
	caPEM  []byte
	caFile string
	caDir  string
	ca     *x509.Certificate
	leaf   *x509.Certificate
	config *tls.Config

	mu     sync.Mutex
	hellos []ClientHello
}

// ClientHello is what a client asked for in one TLS handshake with the server.
type ClientHello struct {
	ServerName string   // SNI; empty when the client sent none (Go sends none for an IP address)
	ALPN       []string // the application protocols offered
	MinVersion uint16   // the lowest TLS version offered (tls.VersionTLS12...)
}

// NewTLSServer starts and returns a new Server serving https and wss (stream URLs wss://...) on 127.0.0.1
// with a certificate from its own certificate authority, made at start (ECDSA P-256, in memory), like
// httptest.NewTLSServer. [Server.AWSConfig] trusts that CA; [Server.CACertPEM] and [Server.CAFile] hand it
// to other programs (AWS_CA_BUNDLE, ca_bundle). The caller should call Close when finished.
func NewTLSServer(opts *Options) *Server {
	s := NewUnstartedServer(opts)
	s.StartTLS()
	return s
}

// StartTLS starts TLS on a server from [NewUnstartedServer]. It panics if the server was started already or
// the CA cannot be made or written.
func (s *Server) StartTLS() {
	st, err := newTLSState(s.opts)
	if err != nil {
		panic("ssmtest: StartTLS: " + err.Error())
	}
	s.tls = st
	s.start("https", func() { s.httpSrv.ServeTLS(s.Listener, "", "") }, func(h *http.Server) {
		h.TLSConfig = st.config
	})
}

func newTLSState(o Options) (*tlsState, error) {
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{Organization: []string{"ssmtest"}, CommonName: "ssmtest CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLenZero:        true,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	notAfter := o.TLS.NotAfter
	if notAfter.IsZero() {
		notAfter = now.Add(24 * time.Hour)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial(),
		Subject:      pkix.Name{Organization: []string{"ssmtest"}, CommonName: "ssmtest server"},
		NotBefore:    notBefore(now, notAfter),
		NotAfter:     notAfter,
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	names := o.TLS.Names
	if names == nil {
		names = []string{"localhost", "127.0.0.1", "::1", DefaultHostname}
		if o.Hostname != "" && !slices.Contains(names, o.Hostname) {
			names = append(names, o.Hostname)
		}
	}
	for _, n := range names {
		if ip := net.ParseIP(n); ip != nil {
			tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
		} else {
			tmpl.DNSNames = append(tmpl.DNSNames, n)
		}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	leaf, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, err
	}
	st := &tlsState{ca: ca, leaf: leaf, caPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})}
	if st.caDir, err = os.MkdirTemp("", "ssmtest-ca-"); err != nil {
		return nil, err
	}
	st.caFile = filepath.Join(st.caDir, "ca.pem")
	if err := os.WriteFile(st.caFile, st.caPEM, 0o644); err != nil {
		os.RemoveAll(st.caDir)
		return nil, err
	}
	cert := tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key, Leaf: leaf}
	st.config = &tls.Config{
		// As AWS's endpoints: TLS 1.2 at least; the data channel and the APIs speak HTTP/1.1 here.
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{cert},
		NextProtos:   []string{"http/1.1"},
		GetConfigForClient: func(h *tls.ClientHelloInfo) (*tls.Config, error) {
			ch := ClientHello{ServerName: h.ServerName, ALPN: slices.Clone(h.SupportedProtos)}
			for _, v := range h.SupportedVersions {
				if ch.MinVersion == 0 || v < ch.MinVersion {
					ch.MinVersion = v
				}
			}
			st.mu.Lock()
			if len(st.hellos) < 1000 {
				st.hellos = append(st.hellos, ch)
			}
			st.mu.Unlock()
			return nil, nil
		},
	}
	return st, nil
}

// notBefore starts a certificate an hour before now, or before notAfter when that is earlier (an expired one).
func notBefore(now, notAfter time.Time) time.Time {
	if notAfter.Before(now) {
		return notAfter.Add(-time.Hour)
	}
	return now.Add(-time.Hour)
}

func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		panic(err)
	}
	return n
}

// close removes the CA file.
func (st *tlsState) close() {
	if st != nil {
		os.RemoveAll(st.caDir)
	}
}

// CACertPEM returns the PEM encoding of the certificate authority that signed the server's certificate, or nil
// for a server without TLS.
func (s *Server) CACertPEM() []byte {
	if s.tls == nil {
		return nil
	}
	return slices.Clone(s.tls.caPEM)
}

// CAFile returns the path of a file holding [Server.CACertPEM], for programs a test runs (AWS_CA_BUNDLE,
// ca_bundle in a profile), or "" for a server without TLS. Close removes it.
func (s *Server) CAFile() string {
	if s.tls == nil {
		return ""
	}
	return s.tls.caFile
}

// Certificate returns the certificate the server presents, or nil for a server without TLS.
func (s *Server) Certificate() *x509.Certificate {
	if s.tls == nil {
		return nil
	}
	return s.tls.leaf
}

// CertPool returns a pool holding the server's CA, or nil for a server without TLS.
func (s *Server) CertPool() *x509.CertPool {
	if s.tls == nil {
		return nil
	}
	p := x509.NewCertPool()
	p.AddCert(s.tls.ca)
	return p
}

// ClientHellos returns what clients asked for in the TLS handshakes so far (the first thousand), oldest first.
func (s *Server) ClientHellos() []ClientHello {
	if s.tls == nil {
		return nil
	}
	s.tls.mu.Lock()
	defer s.tls.mu.Unlock()
	return slices.Clone(s.tls.hellos)
}

// httpClient returns the SDK HTTP client AWSConfig hands out: the SDK's default one, trusting the server's CA
// on a TLS server, as config.LoadDefaultConfig builds it for AWS_CA_BUNDLE.
func (s *Server) httpClient() *awshttp.BuildableClient {
	c := awshttp.NewBuildableClient()
	if s.tls == nil {
		return c
	}
	pool := s.CertPool()
	return c.WithTransportOptions(func(tr *http.Transport) {
		if tr.TLSClientConfig == nil {
			tr.TLSClientConfig = &tls.Config{}
		}
		tr.TLSClientConfig.RootCAs = pool
	})
}

func (s *Server) hostForURL() string {
	if s.opts.Hostname == "" {
		return s.Listener.Addr().String()
	}
	_, port, err := net.SplitHostPort(s.Listener.Addr().String())
	if err != nil {
		panic(fmt.Sprintf("ssmtest: listener address %q: %v", s.Listener.Addr(), err))
	}
	return net.JoinHostPort(s.opts.Hostname, port)
}

package session

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"
)

// CertificateError is a TLS handshake that failed because the server's certificate is not trusted: the
// data-channel service's, or an https:// proxy's. Behind a TLS-inspecting proxy the API calls may succeed
// with AWS_CA_BUNDLE or a profile's ca_bundle while the data channel, without the same roots, would fail here
// (docs/protocol.md §3.6).
type CertificateError struct {
	Host   string // the host whose certificate was refused
	Proxy  bool   // the host is the proxy, not the service
	Reason string // "unknown authority", "name mismatch", "expired" (or "not yet valid"), or the verifier's words
	Err    error  // the verifier's error (*tls.CertificateVerificationError, x509 errors)
}

func (e *CertificateError) Error() string {
	what := "data channel"
	if e.Proxy {
		what = "proxy"
	}
	advice := "if your network inspects TLS, set AWS_CA_BUNDLE (or ca_bundle in the AWS profile) to a PEM file with its CA"
	switch e.Reason {
	case "name mismatch":
		advice = "the certificate is for another host; " + advice
	case "expired", "not yet valid":
		advice = "check the system clock; " + advice
	}
	return fmt.Sprintf("session: TLS certificate of %s %s not trusted: %s (%s)", what, e.Host, e.Reason, advice)
}

func (e *CertificateError) Unwrap() error { return e.Err }

// certificateError returns the CertificateError err is, or nil when it is another TLS failure.
func certificateError(host string, err error) *CertificateError {
	var (
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		cve *tls.CertificateVerificationError
	)
	ce := &CertificateError{Host: host, Err: err}
	switch {
	case errors.As(err, &ua):
		ce.Reason = "unknown authority"
	case errors.As(err, &he):
		ce.Reason = "name mismatch"
	case errors.As(err, &ci) && ci.Reason == x509.Expired:
		ce.Reason = "expired"
		if errors.As(err, &cve) && len(cve.UnverifiedCertificates) > 0 &&
			time.Now().Before(cve.UnverifiedCertificates[0].NotBefore) {
			ce.Reason = "not yet valid"
		}
	case errors.As(err, &ci):
		ce.Reason = ci.Error()
	case errors.As(err, &cve):
		ce.Reason = strings.TrimPrefix(cve.Err.Error(), "x509: ")
	default:
		return nil
	}
	return ce
}

// ProxyError is a data-channel dial that failed at the HTTP proxy: it could not be reached, or answered
// CONNECT with another status than 200 (403: the proxy refuses the destination; 407: it wants credentials).
type ProxyError struct {
	Proxy          string // the proxy's host:port, never its credentials
	Target         string // the host:port the tunnel was asked for
	HadCredentials bool   // the proxy URL carried a user (sent as Proxy-Authorization)
	StatusCode     int    // the proxy's answer to CONNECT; 0 when there was none
	Status         string // e.g. "403 Forbidden"
	Err            error  // why there was no answer, when StatusCode is 0
}

func (e *ProxyError) Error() string {
	switch {
	case e.StatusCode == http.StatusProxyAuthRequired && e.HadCredentials:
		return fmt.Sprintf("session: proxy %s refused the credentials in the proxy URL (HTTP %s)", e.Proxy, e.Status)
	case e.StatusCode == http.StatusProxyAuthRequired:
		return fmt.Sprintf("session: proxy %s requires authentication (HTTP %s): put the user and password in the proxy URL "+
			"(HTTPS_PROXY=http://user:password@host:port)", e.Proxy, e.Status)
	case e.StatusCode != 0:
		return fmt.Sprintf("session: proxy %s refused to connect to %s (HTTP %s): ask for it to be allowed, "+
			"or name the host in NO_PROXY", e.Proxy, e.Target, e.Status)
	}
	return fmt.Sprintf("session: proxy %s cannot be reached: %v (check HTTPS_PROXY and NO_PROXY)", e.Proxy, e.Err)
}

func (e *ProxyError) Unwrap() error { return e.Err }

package session

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
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
	what := ""
	if e.Proxy {
		what = "proxy "
	}
	advice := "if your network inspects TLS, set AWS_CA_BUNDLE (or ca_bundle in the AWS profile) to a PEM file with its CA"
	switch e.Reason {
	case "name mismatch":
		advice = "the certificate is for another host; " + advice
	case "expired", "not yet valid":
		advice = "check the system clock; " + advice
	}
	return fmt.Sprintf("session: TLS certificate of %s%s not trusted: %s (%s)", what, e.Host, e.Reason, advice)
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
	StatusCode     int    // the proxy's answer to CONNECT; 0 when there was none or it is unknown
	Status         string // e.g. "403 Forbidden"; from net/http only the reason phrase ("Access violation")
	Err            error  // why there was no answer, when StatusCode is 0
}

func (e *ProxyError) Error() string {
	proxy := e.Proxy
	if proxy == "" {
		proxy = "(HTTPS_PROXY)"
	}
	auth := e.StatusCode == http.StatusProxyAuthRequired || e.StatusCode == http.StatusUnauthorized // tinyproxy: 401
	switch {
	case auth && e.HadCredentials:
		return fmt.Sprintf("session: proxy %s refused the credentials in the proxy URL (HTTP %s)", proxy, e.Status)
	case auth:
		return fmt.Sprintf("session: proxy %s requires authentication (HTTP %s): put the user and password in the proxy URL "+
			"(HTTPS_PROXY=http://user:password@host:port)", proxy, e.Status)
	case e.StatusCode != 0 || e.Status != "":
		return fmt.Sprintf("session: proxy %s refused to connect to %s (HTTP %s): ask for it to be allowed, "+
			"or name the host in NO_PROXY", proxy, e.Target, e.Status)
	}
	return fmt.Sprintf("session: proxy %s cannot be reached: %v (check HTTPS_PROXY and NO_PROXY)", proxy, e.Err)
}

func (e *ProxyError) Unwrap() error { return e.Err }

// NetworkError returns err as a [*CertificateError] or [*ProxyError] when it is one, or when it is an HTTP
// client's failure of that kind, such as an SDK call's (a certificate the roots do not vouch for, a proxy that
// refused CONNECT or could not be reached); else nil. Programs use it to tell a user what to set.
func NetworkError(err error) error {
	var ce *CertificateError
	var pe *ProxyError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ce):
		return ce
	case errors.As(err, &pe):
		return pe
	}
	host := ""
	var ue *url.Error
	if errors.As(err, &ue) {
		if u, perr := url.Parse(ue.URL); perr == nil {
			host = u.Hostname()
		}
	}
	// The proxy net/http's default transport chose for the request, to name it.
	var envProxy *url.URL
	if ue != nil {
		if u, perr := url.Parse(ue.URL); perr == nil {
			envProxy, _ = http.ProxyFromEnvironment(&http.Request{URL: u})
		}
	}
	newProxyError := func() *ProxyError {
		pe := &ProxyError{Target: host}
		if envProxy != nil {
			pe.Proxy, pe.HadCredentials = envProxy.Host, envProxy.User != nil
		}
		return pe
	}
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "proxyconnect" {
		// net/http's transport: the dial to the proxy failed, or CONNECT was answered with this status text.
		pe := newProxyError()
		if ce := certificateError(pe.Proxy, oe.Err); ce != nil {
			ce.Proxy = true
			return ce
		}
		if code := statusCode(oe.Err.Error()); code != 0 {
			pe.StatusCode, pe.Status = code, fmt.Sprintf("%d %s", code, http.StatusText(code))
		} else {
			pe.Err = oe.Err
		}
		return pe
	}
	if ce := certificateError(host, err); ce != nil {
		return ce
	}
	// net/http answers a refused CONNECT with an error that is only the status text ("Forbidden").
	inner := err
	for {
		next := errors.Unwrap(inner)
		if next == nil {
			break
		}
		inner = next
	}
	// net/http answers a refused CONNECT with an error that is only the reason phrase ("Forbidden", or a
	// proxy's own words such as tinyproxy's "Access violation"): a bare error with no colon, with a proxy.
	var nerr net.Error
	common := errors.As(inner, &nerr) || inner == io.EOF || inner == io.ErrUnexpectedEOF ||
		inner == context.Canceled || inner == context.DeadlineExceeded
	if ue != nil && inner != err && !common && (envProxy != nil || statusCode(inner.Error()) != 0) &&
		!strings.Contains(inner.Error(), ":") {
		pe := newProxyError()
		pe.Status = inner.Error()
		if pe.StatusCode = statusCode(inner.Error()); pe.StatusCode != 0 {
			pe.Status = fmt.Sprintf("%d %s", pe.StatusCode, inner.Error())
		}
		return pe
	}
	return nil
}

// statusCode returns the HTTP status whose text is s, or 0.
func statusCode(s string) int {
	for code := 400; code < 600; code++ {
		if t := http.StatusText(code); t != "" && t == s {
			return code
		}
	}
	return 0
}

package doctor

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"
)

// ProxyRefusedError is a proxy's answer other than 200 to CONNECT.
type ProxyRefusedError struct {
	Proxy  string // the proxy URL without credentials
	Host   string // host:port asked for
	Status string // e.g. "403 Forbidden"
}

func (e *ProxyRefusedError) Error() string {
	return fmt.Sprintf("proxy %s refused CONNECT to %s: %s", e.Proxy, e.Host, e.Status)
}

// hostPort is u's host with the scheme's default port.
func hostPort(u *url.URL) string {
	if u.Port() != "" {
		return u.Host
	}
	if u.Scheme == "http" {
		return net.JoinHostPort(u.Hostname(), "80")
	}
	return net.JoinHostPort(u.Hostname(), "443")
}

// dial connects to u's host, through the proxy the environment names for it (CONNECT).
func (d *run) dial(ctx context.Context, u *url.URL) (net.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	p, _, err := d.proxyFor(u)
	if err != nil {
		return nil, fmt.Errorf("proxy settings: %w", err)
	}
	var nd net.Dialer
	if p == nil {
		return nd.DialContext(ctx, "tcp", hostPort(u))
	}
	if p.Scheme != "http" && p.Scheme != "https" {
		return nil, fmt.Errorf("proxy %s: the %s scheme is not checked by doctor", p.Redacted(), p.Scheme)
	}
	conn, err := nd.DialContext(ctx, "tcp", hostPort(p))
	if err != nil {
		return nil, fmt.Errorf("proxy %s: %w", p.Redacted(), err)
	}
	if p.Scheme == "https" {
		tc := tls.Client(conn, &tls.Config{ServerName: p.Hostname()})
		if err := tc.HandshakeContext(ctx); err != nil {
			conn.Close()
			return nil, fmt.Errorf("proxy %s: %w", p.Redacted(), err)
		}
		conn = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	target := hostPort(u)
	req := &http.Request{Method: http.MethodConnect, URL: &url.URL{Opaque: target}, Host: target, Header: http.Header{}}
	if p.User != nil {
		pw, _ := p.User.Password()
		req.Header.Set("Proxy-Authorization", "Basic "+base64.StdEncoding.EncodeToString([]byte(p.User.Username()+":"+pw)))
	}
	br := bufio.NewReader(conn)
	if err := req.Write(conn); err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: %w", p.Redacted(), err)
	}
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: CONNECT %s: %w", p.Redacted(), target, err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		conn.Close()
		return nil, &ProxyRefusedError{Proxy: p.Redacted(), Host: target, Status: resp.Status}
	}
	conn.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		conn.Close()
		return nil, fmt.Errorf("proxy %s: data after the CONNECT answer", p.Redacted())
	}
	return conn, nil
}

// proxy reports the proxy for the SSM endpoint and the data channel, and asks it for a tunnel to each.
func (d *run) proxy(ctx context.Context) []Result {
	if d.net == nil {
		return skip(CheckProxy, "no endpoints")
	}
	r := Result{Check: CheckProxy, Status: Pass, Details: map[string]string{}}
	var parts []string
	for _, e := range []struct {
		name string
		u    *url.URL
	}{{"SSM", d.net.ssm}, {"data channel", d.net.data}} {
		p, from, err := d.proxyFor(e.u)
		switch {
		case err != nil:
			r.Status, r.Err = Fail, err
			r.Message = "invalid proxy settings: " + err.Error()
			r.Fix = "correct HTTPS_PROXY / HTTP_PROXY (a URL such as http://proxy.example.com:3128)"
			return one(r)
		case p == nil:
			parts = append(parts, e.name+" direct")
			r.Details[strings.ReplaceAll(e.name, " ", "_")] = "direct"
			continue
		}
		r.Details[strings.ReplaceAll(e.name, " ", "_")] = p.Redacted()
		parts = append(parts, fmt.Sprintf("%s via %s (%s)", e.name, p.Redacted(), from))
		if e.u.Scheme != "https" {
			continue // a plain-HTTP endpoint goes through the proxy as a request, nothing to tunnel
		}
		conn, err := d.dial(ctx, e.u)
		if err != nil {
			r.Status, r.Err = Fail, err
			r.Message = fmt.Sprintf("%s: %v", e.name, err)
			r.Fix = fmt.Sprintf("the proxy in %s must allow CONNECT to %s (and to the other *.amazonaws.com "+
				"endpoints above); or, if they are reachable directly, add them to NO_PROXY", from, hostPort(e.u))
			var pe *ProxyRefusedError
			if !errors.As(err, &pe) {
				r.Fix = fmt.Sprintf("check that the proxy in %s is running and reachable; or unset it if the endpoints are reachable directly", from)
			}
			return one(r)
		}
		conn.Close()
	}
	d.proxyOK = true
	noProxy := d.env.get("NO_PROXY")
	if noProxy == "" {
		noProxy = d.env.get("no_proxy")
	}
	if noProxy != "" {
		r.Details["no_proxy"] = noProxy
	}
	r.Message = strings.Join(parts, ", ")
	return one(r)
}

// tlsAPI checks TLS trust to the SSM API endpoint.
func (d *run) tlsAPI(ctx context.Context) []Result {
	return d.checkTLS(ctx, CheckTLSAPI, "SSM API", d.netURL(0))
}

// tlsData checks TLS trust to the data-channel host.
func (d *run) tlsData(ctx context.Context) []Result {
	return d.checkTLS(ctx, CheckTLSData, "data channel", d.netURL(1))
}

func (d *run) netURL(i int) *url.URL {
	if d.net == nil {
		return nil
	}
	if i == 0 {
		return d.net.ssm
	}
	return d.net.data
}

// checkTLS makes a TLS handshake with u's host (through the proxy, if any) with the roots the SDK uses.
func (d *run) checkTLS(ctx context.Context, check, what string, u *url.URL) []Result {
	switch {
	case u == nil:
		return skip(check, "no endpoints")
	case !d.proxyOK:
		return skip(check, "the proxy check failed")
	case u.Scheme != "https":
		return one(Result{Check: check, Status: Warn,
			Message: fmt.Sprintf("%s endpoint %s is plain HTTP: no TLS to check", what, u.Host),
			Fix:     "use an https:// endpoint URL unless this is a local emulator"})
	}
	r := Result{Check: check, Details: map[string]string{"host": hostPort(u), "roots": d.net.rootsFrom}}
	conn, err := d.dial(ctx, u)
	if err != nil {
		r.Status, r.Err = Fail, err
		r.Message = fmt.Sprintf("cannot connect to %s: %v", hostPort(u), err)
		r.Fix = "check the network path to " + u.Hostname() + " (DNS, firewall, security groups, VPC endpoint policy)"
		return one(r)
	}
	defer conn.Close()
	hctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	tc := tls.Client(conn, &tls.Config{ServerName: u.Hostname(), RootCAs: d.net.roots, MinVersion: tls.VersionTLS12})
	if err := tc.HandshakeContext(hctx); err != nil {
		r.Status, r.Err = Fail, err
		r.Message = fmt.Sprintf("%s does not present a trusted certificate (%s): %v", hostPort(u), d.net.rootsFrom, err)
		var unknown x509.UnknownAuthorityError
		var host x509.HostnameError
		var invalid x509.CertificateInvalidError
		switch {
		case errors.As(err, &unknown):
			r.Fix = "the certificate's issuer is not trusted: if a TLS-inspecting proxy or a private CA sits on the " +
				"path, put its CA certificate in a PEM file and set AWS_CA_BUNDLE (or ca_bundle in profile " + d.profile +
				"); both ssmwire and the AWS CLI read it"
		case errors.As(err, &host):
			r.Fix = "the certificate is for another name: check the endpoint URL and the DNS of " + u.Hostname()
		case errors.As(err, &invalid):
			r.Fix = "the certificate is expired or not yet valid: check this machine's clock, then the endpoint"
		default:
			r.Fix = "check the endpoint URL and whatever sits on the path to " + u.Hostname()
		}
		return one(r)
	}
	st := tc.ConnectionState()
	r.Status = Pass
	leaf := st.PeerCertificates[0]
	r.Details["tls_version"] = tls.VersionName(st.Version)
	r.Details["issuer"] = leaf.Issuer.String()
	r.Message = fmt.Sprintf("%s trusted (%s, issued by %s; %s)", hostPort(u), tls.VersionName(st.Version),
		issuerName(leaf), d.net.rootsFrom)
	return one(r)
}

func issuerName(c *x509.Certificate) string {
	if c.Issuer.CommonName != "" {
		return c.Issuer.CommonName
	}
	if len(c.Issuer.Organization) > 0 {
		return c.Issuer.Organization[0]
	}
	return c.Issuer.String()
}

package testkit

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"sync"
	"testing"
)

// Proxy is an HTTP proxy on 127.0.0.1 for tests of clients behind one, as tinyproxy or squid would serve:
// CONNECT tunnels and plain requests in absolute form, over http or https (a certificate of its own, see
// [Proxy.CertPEM]). It records every request's target and reaches a host through Hosts first, so that a
// test can name a server by a name only the proxy resolves: a client that does not go through the proxy then
// fails instead of passing unnoticed. Cleanup closes it and every tunnel still open.
type Proxy struct {
	// URL is the proxy's URL, http://127.0.0.1:port or https://127.0.0.1:port.
	URL *url.URL
	// Hosts maps a host name a client asks for to the address dialled instead (host names only, the port
	// stays the request's). Set it before the first request.
	Hosts map[string]string

	srv *httptest.Server
	wg  sync.WaitGroup

	mu      sync.Mutex
	targets []string // "CONNECT host:port" or "GET http://host/path", in order
	tunnels map[net.Conn]struct{}
}

// NewProxy starts a Proxy, serving TLS when useTLS is set.
func NewProxy(t testing.TB, useTLS bool) *Proxy {
	t.Helper()
	p := &Proxy{Hosts: map[string]string{}, tunnels: map[net.Conn]struct{}{}}
	p.srv = httptest.NewUnstartedServer(http.HandlerFunc(p.serve))
	if useTLS {
		p.srv.StartTLS()
	} else {
		p.srv.Start()
	}
	p.URL, _ = url.Parse(p.srv.URL)
	t.Cleanup(func() {
		p.srv.Close()
		p.mu.Lock()
		for c := range p.tunnels {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// CertPEM is the certificate of an https proxy as PEM, for a client's CA bundle; nil for http.
func (p *Proxy) CertPEM() []byte {
	if p.srv.Certificate() == nil {
		return nil
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: p.srv.Certificate().Raw})
}

// Certificate is the certificate of an https proxy, nil for http.
func (p *Proxy) Certificate() *x509.Certificate { return p.srv.Certificate() }

// Targets returns the requests so far, oldest first: "CONNECT host:port" or "METHOD URL".
func (p *Proxy) Targets() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// addr maps hostport through Hosts.
func (p *Proxy) addr(hostport string) string {
	host, port, err := net.SplitHostPort(hostport)
	if err != nil {
		return hostport
	}
	if to, ok := p.Hosts[host]; ok {
		return net.JoinHostPort(to, port)
	}
	return hostport
}

func (p *Proxy) serve(w http.ResponseWriter, r *http.Request) {
	p.wg.Add(1)
	defer p.wg.Done()
	p.mu.Lock()
	if r.Method == http.MethodConnect {
		p.targets = append(p.targets, "CONNECT "+r.Host)
	} else {
		p.targets = append(p.targets, r.Method+" "+r.URL.String())
	}
	p.mu.Unlock()
	if r.Method != http.MethodConnect {
		p.forward(w, r)
		return
	}
	up, err := net.Dial("tcp", p.addr(r.Host))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	c, rw, err := http.NewResponseController(w).Hijack()
	if err != nil {
		up.Close()
		return
	}
	p.mu.Lock()
	p.tunnels[c], p.tunnels[up] = struct{}{}, struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.tunnels, c)
		delete(p.tunnels, up)
		p.mu.Unlock()
		c.Close()
		up.Close()
	}()
	rw.WriteString("HTTP/1.1 200 Connection established\r\n\r\n")
	if rw.Flush() != nil {
		return
	}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		io.Copy(up, rw)
		up.Close()
	}()
	io.Copy(c, up)
}

// forward passes a plain request in absolute form on to its server.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request) {
	if !r.URL.IsAbs() {
		http.Error(w, "proxy: absolute URL or CONNECT only", http.StatusBadRequest)
		return
	}
	out := r.Clone(r.Context())
	out.RequestURI = ""
	out.URL.Host = p.addr(r.URL.Host)
	out.Host = r.Host
	out.Header.Del("Proxy-Authorization")
	tr := &http.Transport{Proxy: nil}
	defer tr.CloseIdleConnections()
	resp, err := tr.RoundTrip(out)
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	io.Copy(w, resp.Body)
}

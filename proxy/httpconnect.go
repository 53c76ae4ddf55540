package proxy

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// connectRequest is a parsed HTTP request head: a CONNECT to host:port, or another method to refuse.
type connectRequest struct {
	method string
	proto  string // "HTTP/1.1" or "HTTP/1.0": the response uses the same
	host   string
	port   int
}

// httpError is an HTTP request the proxy answers with an error status.
type httpError struct {
	status int
	allow  bool // add "Allow: CONNECT" (405)
	msg    string
}

func (e *httpError) Error() string { return e.msg }

// readConnectRequest reads a request head. A method other than CONNECT yields a 405 *httpError; a CONNECT
// whose target is not host:port a 400; a head that does not parse a 400 as well (the client may not even
// speak HTTP, but a status line is the clearest answer an HTTP client can get).
func readConnectRequest(br *bufio.Reader) (connectRequest, error) {
	req, err := http.ReadRequest(br)
	if err != nil {
		return connectRequest{}, &httpError{status: http.StatusBadRequest, msg: "malformed request: " + err.Error()}
	}
	cr := connectRequest{method: req.Method, proto: "HTTP/1.1"}
	if req.ProtoMajor == 1 && req.ProtoMinor == 0 {
		cr.proto = "HTTP/1.0"
	}
	if req.Method != http.MethodConnect {
		return cr, &httpError{status: http.StatusMethodNotAllowed, allow: true,
			msg: fmt.Sprintf("this proxy only tunnels with CONNECT, and %s was asked for; for http:// URLs "+
				"make the client tunnel (curl --proxytunnel), or use it as a SOCKS5 proxy", printable(req.Method))}
	}
	host, port, err := net.SplitHostPort(req.RequestURI)
	if err != nil || strings.HasPrefix(req.RequestURI, "/") {
		return cr, &httpError{status: http.StatusBadRequest,
			msg: fmt.Sprintf("CONNECT needs host:port, not %q", printable(req.RequestURI))}
	}
	n, err := strconv.Atoi(port)
	if err != nil {
		n = -1
	}
	if err := checkDestination(host, n); err != nil {
		return cr, &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("CONNECT %s: %v", printable(req.RequestURI), err)}
	}
	cr.host, cr.port = host, n
	return cr, nil
}

// httpResponse is a complete response head with a plain-text body; every error response closes the
// connection.
func httpResponse(proto string, status int, allow bool, body string) []byte {
	if proto == "" {
		proto = "HTTP/1.1"
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s %d %s\r\n", proto, status, http.StatusText(status))
	if status == http.StatusOK {
		b.WriteString("\r\n") // a tunnel: no headers, no body
		return []byte(b.String())
	}
	if allow {
		b.WriteString("Allow: CONNECT\r\n")
	}
	if body != "" && !strings.HasSuffix(body, "\n") {
		body += "\n"
	}
	fmt.Fprintf(&b, "Content-Type: text/plain; charset=utf-8\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s", len(body), body)
	return []byte(b.String())
}

// printable quotes nothing but shortens and cleans a client-supplied string for messages.
func printable(s string) string {
	const max = 200
	if len(s) > max {
		s = s[:max] + "…"
	}
	return strings.Map(func(r rune) rune {
		if r < ' ' || r == 0x7F {
			return '?'
		}
		return r
	}, s)
}

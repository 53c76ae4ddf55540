package proxy

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
)

func TestReadSOCKSGreeting(t *testing.T) {
	tests := []struct {
		name   string
		in     []byte
		noAuth bool
		err    bool
	}{
		{"no auth only", []byte{5, 1, 0}, true, false},
		{"no auth among others", []byte{5, 3, 2, 1, 0}, true, false},
		{"username/password only", []byte{5, 1, 2}, false, false},
		{"GSSAPI only", []byte{5, 1, 1}, false, false},
		{"no methods", []byte{5, 0}, false, false},
		{"version 4", []byte{4, 1, 0}, false, true},
		{"short methods", []byte{5, 3, 0}, false, true},
		{"empty", nil, false, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			noAuth, err := readSOCKSGreeting(bytes.NewReader(tt.in))
			if (err != nil) != tt.err || noAuth != tt.noAuth {
				t.Fatalf("readSOCKSGreeting(%v) = %v, %v; want %v, error %v", tt.in, noAuth, err, tt.noAuth, tt.err)
			}
		})
	}
}

func TestReadSOCKSRequest(t *testing.T) {
	domain := func(name string, port ...byte) []byte {
		b := append([]byte{5, 1, 0, 3, byte(len(name))}, name...)
		return append(b, port...)
	}
	tests := []struct {
		name  string
		in    []byte
		cmd   byte
		host  string
		port  int
		reply byte // with an error
		err   bool
	}{
		{"IPv4", []byte{5, 1, 0, 1, 10, 0, 0, 5, 0x15, 0x38}, 1, "10.0.0.5", 5432, 0, false},
		{"IPv6", append(append([]byte{5, 1, 0, 4}, bytes.Repeat([]byte{0}, 15)...), 1, 0, 22), 1, "::1", 22, 0, false},
		{"IPv6 full", []byte{5, 1, 0, 4, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 5, 0, 80}, 1, "fd00::5", 80, 0, false},
		{"IPv4-mapped IPv6 stays IPv6", append([]byte{5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1}, 0, 80), 1, "::ffff:10.0.0.1", 80, 0, false},
		{"domain", domain("db.internal", 0x15, 0x38), 1, "db.internal", 5432, 0, false},
		{"domain with trailing dot", domain("localhost.", 0, 80), 1, "localhost.", 80, 0, false},
		{"BIND parses", []byte{5, 2, 0, 1, 127, 0, 0, 1, 0, 80}, 2, "127.0.0.1", 80, 0, false},
		{"UDP ASSOCIATE parses", []byte{5, 3, 0, 1, 0, 0, 0, 0, 0, 0}, 3, "0.0.0.0", 0, socksGeneralFailure, true},
		{"unknown address type", []byte{5, 1, 0, 9, 1, 2, 3, 4, 0, 80}, 1, "", 0, socksAtypNotSupported, true},
		{"port zero", []byte{5, 1, 0, 1, 10, 0, 0, 5, 0, 0}, 1, "10.0.0.5", 0, socksGeneralFailure, true},
		{"empty domain", domain("", 0, 80), 1, "", 80, socksGeneralFailure, true},
		{"domain with space", domain("a b", 0, 80), 1, "a b", 80, socksGeneralFailure, true},
		{"domain with NUL", domain("a\x00b", 0, 80), 1, "a\x00b", 80, socksGeneralFailure, true},
		{"wrong version", []byte{4, 1, 0, 1, 10, 0, 0, 5, 0, 80}, 0, "", 0, 0, true},
		{"short IPv4", []byte{5, 1, 0, 1, 10, 0}, 1, "", 0, 0, true},
		{"short domain", []byte{5, 1, 0, 3, 10, 'a'}, 1, "", 0, 0, true},
		{"no port", []byte{5, 1, 0, 1, 10, 0, 0, 5}, 1, "10.0.0.5", 0, 0, true},
		{"empty", nil, 0, "", 0, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, rep, err := readSOCKSRequest(bytes.NewReader(tt.in))
			if (err != nil) != tt.err {
				t.Fatalf("err = %v, want error %v", err, tt.err)
			}
			if rep != tt.reply {
				t.Errorf("reply = %d, want %d", rep, tt.reply)
			}
			if req.cmd != tt.cmd || req.host != tt.host || req.port != tt.port {
				t.Errorf("request = %+v, want cmd %d host %q port %d", req, tt.cmd, tt.host, tt.port)
			}
		})
	}
}

func TestReadConnectRequest(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		host   string
		port   int
		proto  string
		status int // 0: no error
	}{
		{"CONNECT name", "CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n", "db.internal", 5432, "HTTP/1.1", 0},
		{"CONNECT IPv4", "CONNECT 10.0.0.5:443 HTTP/1.1\r\n\r\n", "10.0.0.5", 443, "HTTP/1.1", 0},
		{"CONNECT IPv6", "CONNECT [fd00::5]:443 HTTP/1.1\r\n\r\n", "fd00::5", 443, "HTTP/1.1", 0},
		{"HTTP/1.0", "CONNECT example.internal:80 HTTP/1.0\r\n\r\n", "example.internal", 80, "HTTP/1.0", 0},
		{"proxy auth ignored", "CONNECT a:1 HTTP/1.1\r\nProxy-Authorization: Basic eDp5\r\n\r\n", "a", 1, "HTTP/1.1", 0},
		{"GET absolute", "GET http://a.internal/ HTTP/1.1\r\nHost: a.internal\r\n\r\n", "", 0, "HTTP/1.1", 405},
		{"POST", "POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", "", 0, "HTTP/1.1", 405},
		{"CONNECT without port", "CONNECT a.internal HTTP/1.1\r\n\r\n", "", 0, "HTTP/1.1", 400},
		{"CONNECT path", "CONNECT /a:80 HTTP/1.1\r\n\r\n", "", 0, "HTTP/1.1", 400},
		{"CONNECT URL", "CONNECT http://a:80 HTTP/1.1\r\n\r\n", "", 0, "HTTP/1.1", 400},
		{"CONNECT port 0", "CONNECT a:0 HTTP/1.1\r\n\r\n", "", 0, "HTTP/1.1", 400},
		{"CONNECT port too big", "CONNECT a:65536 HTTP/1.1\r\n\r\n", "", 0, "HTTP/1.1", 400},
		{"CONNECT port not a number", "CONNECT a:https HTTP/1.1\r\n\r\n", "", 0, "", 400}, // net/http refuses the URL
		{"garbage", "Hello there\r\n\r\n", "", 0, "", 400},
		{"unterminated head", "CONNECT a:1 HTTP/1.1\r\nHost: a", "", 0, "", 400},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req, err := readConnectRequest(bufio.NewReader(strings.NewReader(tt.in)))
			var he *httpError
			switch {
			case tt.status == 0 && err != nil:
				t.Fatalf("error %v", err)
			case tt.status != 0 && !errors.As(err, &he):
				t.Fatalf("err = %v, want an *httpError %d", err, tt.status)
			case tt.status != 0 && he.status != tt.status:
				t.Fatalf("status %d (%v), want %d", he.status, err, tt.status)
			}
			if req.host != tt.host || req.port != tt.port || req.proto != tt.proto {
				t.Errorf("request = %+v, want host %q port %d proto %q", req, tt.host, tt.port, tt.proto)
			}
			if tt.status == 405 && !he.allow {
				t.Errorf("405 without Allow")
			}
		})
	}
}

func TestHTTPResponse(t *testing.T) {
	if got := string(httpResponse("HTTP/1.1", 200, false, "")); got != "HTTP/1.1 200 OK\r\n\r\n" {
		t.Errorf("200 = %q", got)
	}
	got := string(httpResponse("HTTP/1.0", 405, true, "only CONNECT"))
	want := "HTTP/1.0 405 Method Not Allowed\r\nAllow: CONNECT\r\nContent-Type: text/plain; charset=utf-8\r\n" +
		"Content-Length: 13\r\nConnection: close\r\n\r\nonly CONNECT\n"
	if got != want {
		t.Errorf("405 = %q, want %q", got, want)
	}
}

// FuzzSOCKS feeds arbitrary bytes to the SOCKS5 parsers: they must never panic, and a request they accept
// must name a destination a dial can take.
func FuzzSOCKS(f *testing.F) {
	f.Add([]byte{5, 1, 0, 5, 1, 0, 1, 10, 0, 0, 5, 0, 80})
	f.Add([]byte{5, 1, 0, 5, 1, 0, 3, 4, 'h', 'o', 's', 't', 1, 187})
	f.Add([]byte{5, 2, 0, 2, 5, 1, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 22})
	f.Add([]byte{5, 255})
	f.Add([]byte{5, 1, 0, 5, 1, 0, 3, 255})
	f.Fuzz(func(t *testing.T, b []byte) {
		r := bytes.NewReader(b)
		if _, err := readSOCKSGreeting(r); err != nil {
			return
		}
		req, rep, err := readSOCKSRequest(r)
		if err != nil {
			if rep != 0 && rep != socksGeneralFailure && rep != socksAtypNotSupported {
				t.Fatalf("reply %d for a bad request", rep)
			}
			return
		}
		if checkDestination(req.host, req.port) != nil {
			t.Fatalf("accepted %+v", req)
		}
	})
}

// FuzzConnectRequest feeds arbitrary request heads to the HTTP parser: it must never panic, every error is
// an HTTP status, and an accepted CONNECT names a destination a dial can take.
func FuzzConnectRequest(f *testing.F) {
	f.Add("CONNECT db.internal:5432 HTTP/1.1\r\nHost: db.internal:5432\r\n\r\n")
	f.Add("CONNECT [::1]:22 HTTP/1.0\r\n\r\n")
	f.Add("GET http://x/ HTTP/1.1\r\n\r\n")
	f.Add("CONNECT a:b:c HTTP/1.1\r\n\r\n")
	f.Add("CONNECT  HTTP/1.1\r\n\r\n")
	f.Fuzz(func(t *testing.T, s string) {
		req, err := readConnectRequest(bufio.NewReader(io.LimitReader(strings.NewReader(s), maxHeadBytes)))
		if err != nil {
			var he *httpError
			if !errors.As(err, &he) || (he.status != 400 && he.status != 405) {
				t.Fatalf("error %v is not a 400 or 405", err)
			}
			return
		}
		if req.method != "CONNECT" || checkDestination(req.host, req.port) != nil {
			t.Fatalf("accepted %+v", req)
		}
	})
}

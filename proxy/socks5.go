package proxy

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
)

// SOCKS5 constants (RFC 1928).
const (
	socksVersion = 5

	socksMethodNoAuth       = 0x00
	socksMethodNoAcceptable = 0xFF

	socksCmdConnect = 1
	socksCmdBind    = 2
	socksCmdUDP     = 3

	socksAtypIPv4   = 1
	socksAtypDomain = 3
	socksAtypIPv6   = 4

	socksSucceeded          = 0
	socksGeneralFailure     = 1
	socksNotAllowed         = 2
	socksNetUnreachable     = 3
	socksHostUnreachable    = 4
	socksRefused            = 5
	socksCmdNotSupported    = 7
	socksAtypNotSupported   = 8
	socks4RequestRejected   = 91 // SOCKS4 "request rejected or failed"
	socks4Version           = 4
	socks4ReplyVersion      = 0
	socksMaxDomainLength    = 255
	socksReplyLength        = 10 // reply with an IPv4 bound address
	socks4ReplyLength       = 8
	socksGreetingMaxMethods = 255
)

// errNoAcceptableMethod: the client's greeting does not offer "no authentication required".
var errNoAcceptableMethod = errors.New("socks5: client offers no acceptable authentication method (only \"no authentication\" is served)")

// socksRequest is a parsed SOCKS5 request.
type socksRequest struct {
	cmd  byte
	host string // IP address in text form, or the domain name as sent
	port int
}

// readSOCKSGreeting reads the version identifier/method selection message and reports whether it offers
// "no authentication required". The version byte has not been consumed yet.
func readSOCKSGreeting(r io.Reader) (noAuth bool, err error) {
	var hdr [2]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return false, fmt.Errorf("socks5: greeting: %w", err)
	}
	if hdr[0] != socksVersion {
		return false, fmt.Errorf("socks5: greeting: version %d", hdr[0])
	}
	var methods [socksGreetingMaxMethods]byte
	m := methods[:hdr[1]]
	if _, err := io.ReadFull(r, m); err != nil {
		return false, fmt.Errorf("socks5: greeting: %w", err)
	}
	for _, b := range m {
		if b == socksMethodNoAuth {
			return true, nil
		}
	}
	return false, nil
}

// readSOCKSRequest reads a request. A non-nil error comes with the reply code to send before closing, or 0
// when the bytes were not a SOCKS5 request at all (then nothing is sent). A request for another command than
// CONNECT is returned without error; the caller replies 7.
func readSOCKSRequest(r io.Reader) (req socksRequest, reply byte, err error) {
	var hdr [4]byte
	if _, err := io.ReadFull(r, hdr[:]); err != nil {
		return req, 0, fmt.Errorf("socks5: request: %w", err)
	}
	if hdr[0] != socksVersion {
		return req, 0, fmt.Errorf("socks5: request: version %d", hdr[0])
	}
	req.cmd = hdr[1]
	switch hdr[3] {
	case socksAtypIPv4:
		var a [4]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return req, 0, fmt.Errorf("socks5: request: %w", err)
		}
		req.host = netip.AddrFrom4(a).String()
	case socksAtypIPv6:
		var a [16]byte
		if _, err := io.ReadFull(r, a[:]); err != nil {
			return req, 0, fmt.Errorf("socks5: request: %w", err)
		}
		req.host = netip.AddrFrom16(a).String()
	case socksAtypDomain:
		var n [1]byte
		if _, err := io.ReadFull(r, n[:]); err != nil {
			return req, 0, fmt.Errorf("socks5: request: %w", err)
		}
		var name [socksMaxDomainLength]byte
		if _, err := io.ReadFull(r, name[:n[0]]); err != nil {
			return req, 0, fmt.Errorf("socks5: request: %w", err)
		}
		req.host = string(name[:n[0]])
	default:
		return req, socksAtypNotSupported, fmt.Errorf("socks5: request: address type %d not supported", hdr[3])
	}
	var p [2]byte
	if _, err := io.ReadFull(r, p[:]); err != nil {
		return req, 0, fmt.Errorf("socks5: request: %w", err)
	}
	req.port = int(binary.BigEndian.Uint16(p[:]))
	if err := checkDestination(req.host, req.port); err != nil {
		return req, socksGeneralFailure, fmt.Errorf("socks5: request: %w", err)
	}
	return req, 0, nil
}

// checkDestination rejects destinations no dial could reach: port 0, an empty name, or a name with spaces or
// control characters (which would otherwise travel into API parameters and logs).
func checkDestination(host string, port int) error {
	if port <= 0 || port > 65535 {
		return fmt.Errorf("invalid port %d", port)
	}
	if host == "" {
		return errors.New("empty host")
	}
	for i := 0; i < len(host); i++ {
		if c := host[i]; c <= ' ' || c >= 0x7F {
			return fmt.Errorf("invalid character %q in host name", c)
		}
	}
	return nil
}

// socksReply is a reply with code rep and the unspecified IPv4 address as bound address: the proxy does not
// learn which address the far end used.
func socksReply(rep byte) []byte {
	return []byte{socksVersion, rep, 0, socksAtypIPv4, 0, 0, 0, 0, 0, 0}
}

// socks4Rejection is the SOCKS4 reply that refuses any SOCKS4 or SOCKS4a request.
func socks4Rejection() []byte {
	return []byte{socks4ReplyVersion, socks4RequestRejected, 0, 0, 0, 0, 0, 0}
}

// socksCommandName names a SOCKS5 command for messages.
func socksCommandName(cmd byte) string {
	switch cmd {
	case socksCmdConnect:
		return "CONNECT"
	case socksCmdBind:
		return "BIND"
	case socksCmdUDP:
		return "UDP ASSOCIATE"
	}
	return fmt.Sprintf("command %d", cmd)
}

// hostPort joins a destination for messages.
func hostPort(host string, port int) string {
	return net.JoinHostPort(host, fmt.Sprint(port))
}

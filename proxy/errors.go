package proxy

import (
	"context"
	"errors"
	"net"
	"os"
	"syscall"
)

// Errors a dial function wraps (with %w) to choose the proxy's reply precisely. Errors of net.Dial are
// recognised without them (see [Classify]).
var (
	// ErrForbidden: the destination is not allowed (SOCKS5 reply 2, HTTP 403).
	ErrForbidden = errors.New("proxy: destination not allowed")
	// ErrRefused: the destination refused the connection (SOCKS5 reply 5, HTTP 502).
	ErrRefused = errors.New("proxy: connection refused")
	// ErrUnreachable: the destination cannot be reached or its name resolved (SOCKS5 reply 4, HTTP 502).
	ErrUnreachable = errors.New("proxy: destination unreachable")
)

// Kind is a class of dial failure; it chooses the SOCKS5 reply code and the HTTP status.
type Kind int

const (
	General         Kind = iota // SOCKS5 1, HTTP 502
	Forbidden                   // SOCKS5 2, HTTP 403
	NetUnreachable              // SOCKS5 3, HTTP 502
	HostUnreachable             // SOCKS5 4, HTTP 502
	Refused                     // SOCKS5 5, HTTP 502
	Timeout                     // SOCKS5 4, HTTP 504
)

var kindNames = [...]string{"general failure", "forbidden", "network unreachable", "host unreachable",
	"connection refused", "timeout"}

func (k Kind) String() string {
	if k >= 0 && int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "unknown"
}

// SOCKSReply is the RFC 1928 reply code for k.
func (k Kind) SOCKSReply() byte {
	switch k {
	case Forbidden:
		return socksNotAllowed
	case NetUnreachable:
		return socksNetUnreachable
	case HostUnreachable, Timeout:
		return socksHostUnreachable
	case Refused:
		return socksRefused
	}
	return socksGeneralFailure
}

// HTTPStatus is the status of the response to a CONNECT request that failed with k.
func (k Kind) HTTPStatus() int {
	switch k {
	case Forbidden:
		return 403
	case Timeout:
		return 504
	}
	return 502
}

// Classify returns the kind of a dial error. The sentinels of this package win over what they wrap, so a
// dial function decides; then system errors of net.Dial; then timeouts.
func Classify(err error) Kind {
	var dnsErr *net.DNSError
	var ne net.Error
	switch {
	case err == nil:
		return General
	case errors.Is(err, ErrForbidden):
		return Forbidden
	case errors.Is(err, ErrRefused):
		return Refused
	case errors.Is(err, ErrUnreachable):
		return HostUnreachable
	case errors.Is(err, syscall.ECONNREFUSED):
		return Refused
	case errors.Is(err, syscall.ENETUNREACH):
		return NetUnreachable
	case errors.Is(err, syscall.EHOSTUNREACH):
		return HostUnreachable
	case errors.As(err, &dnsErr) && !dnsErr.IsTimeout:
		return HostUnreachable
	case errors.Is(err, context.DeadlineExceeded), errors.Is(err, os.ErrDeadlineExceeded),
		errors.As(err, &ne) && ne.Timeout():
		return Timeout
	}
	return General
}

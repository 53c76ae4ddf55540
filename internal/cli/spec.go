package cli

import (
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"

	"github.com/ssmwire/ssmwire"
)

// Forward is one local forward in OpenSSH -L syntax:
//
//	[bind_address:]port:host:hostport
//	local_socket:host:hostport
//
// A loopback host ("localhost", "localhost.", 127.0.0.0/8, ::1; [ssmwire.IsLoopbackHost]) means the target
// itself (document AWS-StartPortForwardingSession); any other host is
// reached through the target (AWS-StartPortForwardingSessionToRemoteHost). A local side containing a '/' is
// a unix socket path. IPv6 addresses are written in brackets: [::1]:8080:[fd00::5]:80.
type Forward struct {
	Spec        string // as written
	BindAddress string // TCP listen address; "127.0.0.1" unless given, "" for a unix socket
	Port        int    // TCP listen port (0: any free port)
	Socket      string // unix socket path of the local side
	Host        string // remote host, "localhost" for the target itself
	HostPort    int    // remote port
}

// ParseForward parses one forward specification.
func ParseForward(spec string) (Forward, error) {
	fields, err := splitSpec(spec)
	if err != nil {
		return Forward{}, fmt.Errorf("forward %q: %w", spec, err)
	}
	f := Forward{Spec: spec}
	switch len(fields) {
	case 3:
		if strings.Contains(fields[0], "/") {
			f.Socket = fields[0]
		} else {
			f.BindAddress = "127.0.0.1"
			if f.Port, err = parsePort(fields[0], true); err != nil {
				return Forward{}, fmt.Errorf("forward %q: local port: %w", spec, err)
			}
		}
	case 4:
		f.BindAddress = fields[0]
		switch f.BindAddress {
		case "", "*":
			f.BindAddress = "0.0.0.0"
		case "localhost":
			f.BindAddress = "127.0.0.1"
		}
		if f.Port, err = parsePort(fields[1], true); err != nil {
			return Forward{}, fmt.Errorf("forward %q: local port: %w", spec, err)
		}
	default:
		return Forward{}, fmt.Errorf("forward %q: want [bind_address:]port:host:hostport or socket_path:host:hostport", spec)
	}
	f.Host = fields[len(fields)-2]
	if f.Host == "" {
		return Forward{}, fmt.Errorf("forward %q: empty remote host", spec)
	}
	if f.HostPort, err = parsePort(fields[len(fields)-1], false); err != nil {
		return Forward{}, fmt.Errorf("forward %q: remote port: %w", spec, err)
	}
	return f, nil
}

// splitSpec splits at colons outside brackets and removes the brackets.
func splitSpec(s string) ([]string, error) {
	var fields []string
	var cur strings.Builder
	depth := 0
	for _, r := range s {
		switch {
		case r == '[':
			if depth > 0 {
				return nil, errors.New("nested '['")
			}
			depth++
		case r == ']':
			if depth == 0 {
				return nil, errors.New("unbalanced ']'")
			}
			depth--
		case r == ':' && depth == 0:
			fields = append(fields, cur.String())
			cur.Reset()
		default:
			cur.WriteRune(r)
		}
	}
	if depth != 0 {
		return nil, errors.New("unbalanced '['")
	}
	return append(fields, cur.String()), nil
}

func parsePort(s string, zeroOK bool) (int, error) {
	n, err := strconv.Atoi(s)
	if err != nil || n < 0 || n > 65535 || (n == 0 && !zeroOK) {
		return 0, fmt.Errorf("%q is not a port number", s)
	}
	return n, nil
}

// ListenNetwork is "unix" for a socket path and "tcp" otherwise.
func (f Forward) ListenNetwork() string {
	if f.Socket != "" {
		return "unix"
	}
	return "tcp"
}

// ListenAddress is the address to listen on, for [net.Listen] with [Forward.ListenNetwork].
func (f Forward) ListenAddress() string {
	if f.Socket != "" {
		return f.Socket
	}
	return net.JoinHostPort(f.BindAddress, strconv.Itoa(f.Port))
}

// ToTarget reports whether the forward reaches a port of the target itself.
func (f Forward) ToTarget() bool { return ssmwire.IsLoopbackHost(f.Host) }

// RemoteAddress is host:port as seen from the target.
func (f Forward) RemoteAddress() string { return net.JoinHostPort(f.Host, strconv.Itoa(f.HostPort)) }

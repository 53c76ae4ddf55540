package portforward

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Mode is the way a Port session carries connections (docs/protocol.md §6.2).
type Mode int

// The three port session modes.
const (
	// ModeBasic carries one TCP connection at a time, the raw bytes as Output payloads. A local client going
	// away is signalled with Flag DisconnectToPort; the agent then redials the destination on the next data.
	ModeBasic Mode = iota + 1
	// ModeMux multiplexes any number of connections with smux (protocol version 1) over the session.
	ModeMux
	// ModeStream is the session itself as one byte stream (AWS-StartSSHSession, used as an ssh ProxyCommand).
	ModeStream
)

// String returns "basic", "mux" or "stream".
func (m Mode) String() string {
	switch m {
	case ModeBasic:
		return "basic"
	case ModeMux:
		return "mux"
	case ModeStream:
		return "stream"
	}
	return "Mode(" + strconv.Itoa(int(m)) + ")"
}

// LocalPortForwarding is the Properties.Type of the AWS-StartPortForwardingSession documents; any other type
// (or none) selects [ModeStream].
const LocalPortForwarding = "LocalPortForwarding"

// Agent versions that gate client behaviour (docs/protocol.md §9). The official plugin requires the agent
// version to be strictly greater, with the same number of components.
const (
	muxAfterAgentVersion           = "3.0.196.0"
	terminateFlagAfterAgentVersion = "2.3.722.0"
	noKeepAliveAfterAgentVersion   = "3.1.1511.0"
)

// Properties are a Port session's document properties, as the agent hands them over in the handshake.
// Every value is a string, as in the documents.
type Properties struct {
	PortNumber          string // destination port on the target (or on Host)
	LocalPortNumber     string // local TCP port to listen on; "" or "0" picks one
	LocalUnixSocket     string // local unix socket path, when LocalConnectionType is "unix"
	LocalConnectionType string // "unix" for a unix socket; anything else means TCP
	Type                string // "LocalPortForwarding" for the listener modes
	Host                string // remote host the agent dials (…ToRemoteHost documents); "" means the target itself
}

// ParseProperties decodes the handshake's session properties. Values are JSON strings in the managed
// documents; numbers and booleans are accepted too, and so is a list of one value. Unknown keys are ignored.
// Empty input (or JSON null) gives the zero Properties, which selects [ModeStream].
func ParseProperties(raw json.RawMessage) (Properties, error) {
	var p Properties
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 || string(raw) == "null" {
		return p, nil
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return p, fmt.Errorf("portforward: session properties: %w", err)
	}
	fields := []struct {
		key string
		dst *string
	}{
		{"portNumber", &p.PortNumber},
		{"localPortNumber", &p.LocalPortNumber},
		{"localUnixSocket", &p.LocalUnixSocket},
		{"localConnectionType", &p.LocalConnectionType},
		{"type", &p.Type},
		{"host", &p.Host},
	}
	for _, f := range fields {
		v, ok := m[f.key]
		if !ok {
			continue
		}
		s, err := scalar(v)
		if err != nil {
			return Properties{}, fmt.Errorf("portforward: session property %s: %w", f.key, err)
		}
		*f.dst = s
	}
	return p, nil
}

// scalar turns a JSON string, number, boolean, null or one-element list into a string.
func scalar(v json.RawMessage) (string, error) {
	v = bytes.TrimSpace(v)
	if len(v) == 0 {
		return "", nil
	}
	switch v[0] {
	case '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case 'n':
		return "", nil
	case 't', 'f':
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			return "", err
		}
		return strconv.FormatBool(b), nil
	case '[':
		var l []json.RawMessage
		if err := json.Unmarshal(v, &l); err != nil {
			return "", err
		}
		switch len(l) {
		case 0:
			return "", nil
		case 1:
			return scalar(l[0])
		}
		return "", fmt.Errorf("a list of %d values where one was expected", len(l))
	case '{':
		return "", fmt.Errorf("an object where a string was expected")
	}
	var n json.Number
	if err := json.Unmarshal(v, &n); err != nil {
		return "", err
	}
	return n.String(), nil
}

// SelectMode chooses the mode exactly as the official plugin does (docs/protocol.md §6.2): type
// LocalPortForwarding gives [ModeMux] when the agent version is greater than 3.0.196.0 and [ModeBasic]
// otherwise (including an unparsable or differently shaped version); any other type gives [ModeStream].
func SelectMode(p Properties, agentVersion string) Mode {
	if p.Type != LocalPortForwarding {
		return ModeStream
	}
	if versionGreater(agentVersion, muxAfterAgentVersion) {
		return ModeMux
	}
	return ModeBasic
}

// AgentSupportsTerminateFlag reports whether an agent of this version understands Flag TerminateSession
// (greater than 2.3.722.0); older agents need the SSM TerminateSession API instead.
func AgentSupportsTerminateFlag(agentVersion string) bool {
	return versionGreater(agentVersion, terminateFlagAfterAgentVersion)
}

// AgentDisablesKeepAlive reports whether the official plugin turns smux keepalive off for an agent of this
// version (greater than 3.1.1511.0).
func AgentDisablesKeepAlive(agentVersion string) bool {
	return versionGreater(agentVersion, noKeepAliveAfterAgentVersion)
}

// versionGreater reports whether v is strictly greater than base under the official plugin's rule: both must
// have the same number of dot-separated components, each a decimal integer (strconv.Atoi); any mismatch or
// parse failure counts as "not greater" (docs/protocol.md §9).
func versionGreater(v, base string) bool {
	if v == "" || base == "" {
		return false
	}
	a, b := strings.Split(v, "."), strings.Split(base, ".")
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		x, err := strconv.Atoi(a[i])
		if err != nil {
			return false
		}
		y, err := strconv.Atoi(b[i])
		if err != nil {
			return false
		}
		if x != y {
			return x > y
		}
	}
	return false
}

package portforward

import (
	"encoding/json"
	"testing"
)

func TestParseProperties(t *testing.T) {
	tests := []struct {
		name string
		raw  string
		want Properties
		err  bool
	}{
		{name: "empty", raw: ``},
		{name: "null", raw: `null`},
		{name: "empty object", raw: `{}`},
		{
			name: "port forwarding",
			raw:  `{"portNumber":"80","localPortNumber":"8080","type":"LocalPortForwarding"}`,
			want: Properties{PortNumber: "80", LocalPortNumber: "8080", Type: "LocalPortForwarding"},
		},
		{
			name: "remote host",
			raw:  `{"host":"db.internal","portNumber":"5432","localPortNumber":"","type":"LocalPortForwarding"}`,
			want: Properties{Host: "db.internal", PortNumber: "5432", Type: "LocalPortForwarding"},
		},
		{
			name: "unix socket",
			raw:  `{"portNumber":"22","localConnectionType":"unix","localUnixSocket":"/tmp/x.sock","type":"LocalPortForwarding"}`,
			want: Properties{PortNumber: "22", LocalConnectionType: "unix", LocalUnixSocket: "/tmp/x.sock", Type: "LocalPortForwarding"},
		},
		{name: "ssh", raw: `{"portNumber":"22"}`, want: Properties{PortNumber: "22"}},
		{name: "numbers", raw: `{"portNumber":22,"localPortNumber":0}`, want: Properties{PortNumber: "22", LocalPortNumber: "0"}},
		{name: "one-element list", raw: `{"portNumber":["443"]}`, want: Properties{PortNumber: "443"}},
		{name: "bool and null", raw: `{"host":null,"type":true}`, want: Properties{Type: "true"}},
		{name: "unknown keys", raw: `{"portNumber":"1","extra":{"a":[1,2]}}`, want: Properties{PortNumber: "1"}},
		{name: "not an object", raw: `"x"`, err: true},
		{name: "bad json", raw: `{"portNumber":`, err: true},
		{name: "object value", raw: `{"portNumber":{"a":1}}`, err: true},
		{name: "long list", raw: `{"portNumber":["1","2"]}`, err: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ParseProperties(json.RawMessage(tt.raw))
			if (err != nil) != tt.err {
				t.Fatalf("ParseProperties(%s) error = %v, want error %v", tt.raw, err, tt.err)
			}
			if got != tt.want {
				t.Errorf("ParseProperties(%s) = %+v, want %+v", tt.raw, got, tt.want)
			}
		})
	}
}

func TestSelectMode(t *testing.T) {
	lpf := Properties{Type: LocalPortForwarding, PortNumber: "80"}
	tests := []struct {
		props   Properties
		version string
		want    Mode
	}{
		{lpf, "3.0.196.0", ModeBasic},
		{lpf, "3.0.196.1", ModeMux},
		{lpf, "3.0.197.0", ModeMux},
		{lpf, "3.1.0.0", ModeMux},
		{lpf, "3.3.987.0", ModeMux},
		{lpf, "4.0.0.0", ModeMux},
		{lpf, "3.0.100.0", ModeBasic},
		{lpf, "2.9.999.999", ModeBasic},
		{lpf, "3.0.196", ModeBasic},     // fewer components: not comparable, not greater
		{lpf, "3.1", ModeBasic},         // ditto, although numerically greater
		{lpf, "3.0.196.0.1", ModeBasic}, // more components
		{lpf, "", ModeBasic},
		{lpf, "3.x.0.0", ModeBasic},
		{lpf, "10.0.0.0", ModeMux}, // numeric, not lexical
		{Properties{PortNumber: "22"}, "3.3.987.0", ModeStream},
		{Properties{PortNumber: "22"}, "2.0.0.0", ModeStream},
		{Properties{Type: "localportforwarding"}, "3.3.987.0", ModeStream}, // exact match only
		{Properties{Type: "RemotePortForwarding"}, "3.3.987.0", ModeStream},
	}
	for _, tt := range tests {
		if got := SelectMode(tt.props, tt.version); got != tt.want {
			t.Errorf("SelectMode(type %q, %q) = %v, want %v", tt.props.Type, tt.version, got, tt.want)
		}
	}
}

func TestVersionGates(t *testing.T) {
	tests := []struct {
		version              string
		terminate, noKeepAlv bool
	}{
		{"2.3.722.0", false, false},
		{"2.3.722.1", true, false},
		{"3.1.1511.0", true, false},
		{"3.1.1511.1", true, true},
		{"3.3.987.0", true, true},
		{"3.3", false, false},
	}
	for _, tt := range tests {
		if got := AgentSupportsTerminateFlag(tt.version); got != tt.terminate {
			t.Errorf("AgentSupportsTerminateFlag(%q) = %v", tt.version, got)
		}
		if got := AgentDisablesKeepAlive(tt.version); got != tt.noKeepAlv {
			t.Errorf("AgentDisablesKeepAlive(%q) = %v", tt.version, got)
		}
	}
}

func TestModeString(t *testing.T) {
	for m, want := range map[Mode]string{ModeBasic: "basic", ModeMux: "mux", ModeStream: "stream", 0: "Mode(0)"} {
		if got := m.String(); got != want {
			t.Errorf("Mode(%d).String() = %q, want %q", int(m), got, want)
		}
	}
}

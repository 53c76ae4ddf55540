package agent

import (
	"testing"
)

func TestCheckRemoteHost(t *testing.T) {
	for _, tc := range []struct {
		host   string
		denied bool
	}{
		{"", false},
		{"localhost", true},
		{"localhost.", true},
		{"LocalHost", true},
		{"app.localhost", true},
		{"127.0.0.1", true},
		{"127.1.2.3", true},
		{"::1", true},
		{"::ffff:127.0.0.1", true},
		{"169.254.169.254", true},
		{"fd00:ec2::254", true},
		{"169.254.170.2", true},
		{"169.254.170.23", true},
		{"fd00:ec2::23", true},
		{"10.0.0.20", false},
		{"db.internal", false}, // in Hosts: an emulated VPC name
		{"no-such-host.invalid", false},
	} {
		err := checkRemoteHost(tc.host, map[string]string{"db.internal": "127.0.0.1"})
		if (err != nil) != tc.denied {
			t.Errorf("checkRemoteHost(%q) = %v, want denied=%v", tc.host, err, tc.denied)
		}
		if err != nil && err.Error() != "Forwarding to IP address "+tc.host+" is forbidden." {
			t.Errorf("checkRemoteHost(%q) = %q", tc.host, err)
		}
	}
}

// TestRemoteHostLoopbackRefused: a session naming a loopback host completes the handshake, then fails with
// the agent's text (MGS passes it on as the channel_closed Output), and never dials.
func TestRemoteHostLoopbackRefused(t *testing.T) {
	echo := startEcho(t)
	for _, host := range []string{"localhost", "127.0.0.1", "::1", "169.254.170.2"} {
		t.Run(host, func(t *testing.T) {
			c := startClient(t, Config{SessionType: Port, Properties: portProps(host, echo.port, "LocalPortForwarding")})
			c.handshake("1.2.677.0")
			err := c.waitDone()
			if err == nil || err.Error() != "Forwarding to IP address "+host+" is forbidden." {
				t.Fatalf("Err = %v", err)
			}
		})
	}
	if n := echo.accepted.Load(); n != 0 {
		t.Fatalf("%d connections reached the destination", n)
	}
}

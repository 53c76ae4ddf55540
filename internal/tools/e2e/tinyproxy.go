//go:build unix

package e2e

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
)

// ProxyHostname is the name tests give the emulator so that clients send it through an HTTP proxy: Go,
// botocore and curl never proxy localhost or a loopback address. scripts/test maps it to 127.0.0.1 in
// /etc/hosts; [RequireProxyHostname] checks that.
const ProxyHostname = "ssmtest.internal"

// RequireProxyHostname fails the test unless ProxyHostname resolves to 127.0.0.1.
func RequireProxyHostname(t testing.TB) {
	t.Helper()
	addrs, err := net.LookupHost(ProxyHostname)
	if err != nil || len(addrs) == 0 || addrs[0] != "127.0.0.1" {
		t.Fatalf("e2e: %s resolves to %v (%v), want 127.0.0.1: add \"127.0.0.1 %s\" to /etc/hosts (scripts/test does, as root)",
			ProxyHostname, addrs, err, ProxyHostname)
	}
}

// TinyproxyOptions configure [StartTinyproxy]. The zero value is an open proxy that allows CONNECT to any
// port and never ends idle connections early.
type TinyproxyOptions struct {
	// Timeout is tinyproxy's idle timeout in seconds: a connection, CONNECT tunnels included, on which
	// nothing moves for that long is closed, as corporate proxies do. Default 600.
	Timeout int
	// User and Password, when User is set, make the proxy require Basic authentication (407 without it).
	User, Password string
	// ConnectPorts, when set, are the only ports CONNECT may reach; others are refused with 403.
	ConnectPorts []int
}

// Tinyproxy is a running tinyproxy (Debian's package), the real HTTP proxy of the proxy tests.
type Tinyproxy struct {
	// Addr is the proxy's host:port on 127.0.0.1.
	Addr    string
	logFile string
}

// StartTinyproxy runs tinyproxy in the foreground on 127.0.0.1 at a random port with its own configuration
// and log file, and stops it when the test ends.
func StartTinyproxy(t testing.TB, o TinyproxyOptions) *Tinyproxy {
	t.Helper()
	bin := requireFile(t, "tinyproxy", "/usr/bin/tinyproxy", "/usr/sbin/tinyproxy")
	dir := t.TempDir()
	if o.Timeout == 0 {
		o.Timeout = 600
	}
	tp := &Tinyproxy{logFile: filepath.Join(dir, "tinyproxy.log")}
	port := startServer(t, "tinyproxy", func(port int) error {
		var conf strings.Builder
		fmt.Fprintf(&conf, "Port %d\nListen 127.0.0.1\nTimeout %d\nLogFile %q\nLogLevel Info\nMaxClients 100\n",
			port, o.Timeout, tp.logFile)
		if o.User != "" {
			fmt.Fprintf(&conf, "BasicAuth %s %s\n", o.User, o.Password)
		}
		for _, p := range o.ConnectPorts {
			fmt.Fprintf(&conf, "ConnectPort %d\n", p)
		}
		confFile := filepath.Join(dir, "tinyproxy.conf")
		if err := os.WriteFile(confFile, []byte(conf.String()), 0o600); err != nil {
			return err
		}
		cmd := exec.Command(bin, "-d", "-c", confFile)
		cmd.Dir = dir
		p, err := startProcess(t, "tinyproxy", cmd, syscall.SIGTERM)
		if err != nil {
			return err
		}
		return p.waitReady(func() bool { return canDial(port) })
	})
	tp.Addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))
	return tp
}

// URL returns the proxy's URL, with user information when user is set: the value of HTTPS_PROXY.
func (p *Tinyproxy) URL(user, password string) string {
	u := url.URL{Scheme: "http", Host: p.Addr}
	if user != "" {
		u.User = url.UserPassword(user, password)
	}
	return u.String()
}

// Log returns the proxy's log so far.
func (p *Tinyproxy) Log(t testing.TB) string {
	t.Helper()
	b, err := os.ReadFile(p.logFile)
	if err != nil {
		t.Fatalf("e2e: read the tinyproxy log: %v", err)
	}
	return string(b)
}

// Connects returns how many CONNECT requests for hostport the proxy's log shows (HTTP/1.0 from botocore,
// HTTP/1.1 from Go).
func (p *Tinyproxy) Connects(t testing.TB, hostport string) int {
	t.Helper()
	return strings.Count(p.Log(t), "CONNECT "+hostport+" HTTP/1.")
}

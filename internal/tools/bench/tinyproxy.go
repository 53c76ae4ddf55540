package bench

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// ProxyHostname is the emulator's name in the -proxy-too columns: Go and AWS's plugin never send a loopback
// address through a proxy, so it must resolve to 127.0.0.1 (an /etc/hosts entry, as scripts/test adds).
const ProxyHostname = ssmtest.DefaultHostname

// tinyproxy is a running tinyproxy (Debian's package), started as internal/tools/e2e starts it: in the
// foreground on 127.0.0.1 with its own configuration, open, with CONNECT to any port.
type tinyproxy struct {
	addr string
	cmd  *exec.Cmd
	dir  string
}

// startTinyproxy starts tinyproxy and waits until it accepts connections.
func startTinyproxy() (*tinyproxy, error) {
	if addrs, err := net.LookupHost(ProxyHostname); err != nil || len(addrs) == 0 || addrs[0] != "127.0.0.1" {
		return nil, fmt.Errorf("-proxy-too: %s resolves to %v (%v), want 127.0.0.1: add \"127.0.0.1 %s\" to /etc/hosts",
			ProxyHostname, addrs, err, ProxyHostname)
	}
	bin, err := exec.LookPath("tinyproxy")
	if err != nil {
		for _, p := range []string{"/usr/bin/tinyproxy", "/usr/sbin/tinyproxy"} {
			if _, serr := os.Stat(p); serr == nil {
				bin, err = p, nil
				break
			}
		}
	}
	if err != nil {
		return nil, fmt.Errorf("-proxy-too: tinyproxy not found (apt-get install tinyproxy): %w", err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	dir, err := os.MkdirTemp("", "ssmbench-tinyproxy-")
	if err != nil {
		return nil, err
	}
	conf := fmt.Sprintf("Port %d\nListen 127.0.0.1\nTimeout 600\nLogFile %q\nLogLevel Info\nMaxClients 100\n",
		port, filepath.Join(dir, "tinyproxy.log"))
	confFile := filepath.Join(dir, "tinyproxy.conf")
	if err := os.WriteFile(confFile, []byte(conf), 0o600); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	cmd := exec.Command(bin, "-d", "-c", confFile)
	cmd.Dir = dir
	if err := cmd.Start(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("-proxy-too: start tinyproxy: %w", err)
	}
	tp := &tinyproxy{addr: net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), cmd: cmd, dir: dir}
	for deadline := time.Now().Add(10 * time.Second); ; {
		c, err := net.DialTimeout("tcp", tp.addr, time.Second)
		if err == nil {
			c.Close()
			return tp, nil
		}
		if time.Now().After(deadline) {
			tp.close()
			return nil, errors.New("-proxy-too: tinyproxy did not start listening within 10 s")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// url is the proxy's URL, the value of HTTPS_PROXY.
func (t *tinyproxy) url() string { return "http://" + t.addr }

// close stops tinyproxy and removes its files.
func (t *tinyproxy) close() {
	t.cmd.Process.Kill()
	t.cmd.Wait()
	os.RemoveAll(t.dir)
}

// connects counts the CONNECT requests to the emulator that tinyproxy's log shows so far.
func (t *tinyproxy) connects() int {
	b, _ := os.ReadFile(filepath.Join(t.dir, "tinyproxy.log"))
	return strings.Count(string(b), "CONNECT "+ProxyHostname+":")
}

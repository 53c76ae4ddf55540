//go:build unix

package e2e

import (
	"bufio"
	"net"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// StartRedis runs redis-server on 127.0.0.1 at a random port, in the
// foreground, without persistence, from a temporary directory, and returns
// the port. The server is stopped when the test ends.
func StartRedis(t testing.TB) int {
	t.Helper()
	server := RequireProgram(t, "redis-server")
	dir := t.TempDir()
	return startServer(t, "redis-server", func(port int) error {
		cmd := exec.Command(server,
			"--bind", "127.0.0.1",
			"--port", strconv.Itoa(port),
			"--daemonize", "no",
			"--save", "",
			"--appendonly", "no",
			"--dir", dir,
			"--logfile", "",
			"--supervised", "no",
		)
		cmd.Dir = dir
		p, err := startProcess(t, "redis-server", cmd, syscall.SIGTERM)
		if err != nil {
			return err
		}
		return p.waitReady(func() bool { return redisPing(port) })
	})
}

// redisPing reports whether a Redis server on port answers PING.
func redisPing(port int) bool {
	c, err := net.DialTimeout("tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(port)), time.Second)
	if err != nil {
		return false
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return false
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	return err == nil && strings.HasPrefix(line, "+PONG")
}

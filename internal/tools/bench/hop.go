package bench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/xtaci/smux"

	"github.com/ssmwire/ssmwire/internal/version"
)

// HopName labels the rows of the ceiling relay reached through one forwarder process (Config.HopCeiling).
const HopName = "ceiling+hop"

// hopCommand is the hidden subcommand that runs the forwarder: `ssmbench hop-forward TARGET`.
const hopCommand = "hop-forward"

// hopWait bounds each step of setting up or ending a hop: the forwarder printing its address, its one
// connection arriving, its exit after both directions are done.
const hopWait = 10 * time.Second

// relayConn adapts what a transfer needs from a net.Conn.
type relayConn struct {
	io.ReadWriteCloser
}

func (relayConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (relayConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (relayConn) SetDeadline(time.Time) error      { return nil }
func (relayConn) SetReadDeadline(time.Time) error  { return nil }
func (relayConn) SetWriteDeadline(time.Time) error { return nil }

// smuxFrame is the largest write smux's default configuration makes: a 32 KiB frame and its 8-byte header.
const smuxFrame = 32<<10 + 8

// throughCeiling runs one transfer over the ceiling relay: in basic mode the relay's byte stream is the
// connection; in mux mode an smux client (protocol version 1, keepalive off, as the agent expects from a
// client newer than 1.2.331.0) runs over it and the transfer uses one stream. With hop, the transfer reaches
// that connection through a forwarder process and a loopback listener of this process (behindHop), as a
// plugin's local port is reached.
func throughCeiling(ctx context.Context, e *emulator, mode Mode, t transfer, size int64, chunk int,
	timeout time.Duration, hop bool) (measured, sessionStats, error) {
	d, err := newDest(t.kind(), size)
	if err != nil {
		return measured{}, sessionStats{}, err
	}
	defer d.close()
	s, err := e.startSession(ctx, d.port())
	if err != nil {
		return measured{}, sessionStats{}, err
	}
	defer func() { _ = e.terminate(context.WithoutCancel(ctx), s.ID) }()
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	r, err := dialRelay(ctx, s, chunk, version.Version)
	if err != nil {
		return measured{}, sessionStats{}, err
	}
	defer r.Close()
	stop := context.AfterFunc(ctx, func() { r.Close() })
	defer stop()
	var conn net.Conn = relayConn{r}
	if mode == ModeMux {
		// One smux frame per message with large chunks; with -ceiling-chunk below 32 KiB the relay cuts the
		// frames into messages of that size, as the plugins' defaults do (1 KiB), so that the ceiling is the
		// emulator's for the same message size.
		if r.chunk >= 32<<10 {
			r.chunk = max(r.chunk, smuxFrame)
		}
		cfg := smux.DefaultConfig()
		cfg.Version = 1
		cfg.KeepAliveDisabled = true
		sess, err := smux.Client(r, cfg)
		if err != nil {
			return measured{}, sessionStats{}, err
		}
		defer sess.Close()
		st, err := sess.OpenStream()
		if err != nil {
			return measured{}, sessionStats{}, fmt.Errorf("ceiling: smux stream: %w", err)
		}
		defer st.Close()
		conn = st
	}
	prefix := "ceiling"
	if hop {
		prefix = HopName
		h, err := behindHop(ctx, conn)
		if err != nil {
			return measured{}, sessionStats{}, fmt.Errorf("%s: %w", prefix, err)
		}
		defer h.close()
		conn = h.client
	}
	m, err := t.run(conn, d, time.Now().Add(timeout))
	if err != nil {
		err = fmt.Errorf("%s: %w", prefix, err)
	}
	return m, e.stats(s.ID), err
}

// hop is one forwarder process between a transfer and the relay's connection: the transfer's client
// connection goes to the forwarder, which dials a listener of this process whose one connection is copied
// to and from the relay's. A round trip thus wakes the forwarder twice and this process twice more, as a
// plugin's does (the client, the plugin, the emulator: two processes crossed each way).
type hop struct {
	client net.Conn // the transfer's end: connected to the forwarder
	cmd    *exec.Cmd
	stderr *tailBuffer
	inner  net.Conn // the forwarder's connection to this process, copied to and from relay
	relay  net.Conn
	copies sync.WaitGroup
}

// behindHop starts a forwarder process (this executable's hop-forward subcommand, with GOMAXPROCS=1 and
// GOGC=25 as our plugin runs itself) in front of relay and returns the hop, its client connected.
func behindHop(ctx context.Context, relay net.Conn) (*hop, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	h := &hop{relay: relay, stderr: &tailBuffer{}}
	h.cmd = exec.Command(exe, hopCommand, ln.Addr().String())
	h.cmd.Env = append(os.Environ(), "GOMAXPROCS=1", "GOGC=25")
	h.cmd.Stderr = h.stderr
	out, err := h.cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := h.cmd.Start(); err != nil {
		return nil, err
	}
	addr := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(out).ReadString('\n')
		addr <- strings.TrimSpace(line)
		_, _ = io.Copy(io.Discard, out)
	}()
	fail := func(err error) (*hop, error) {
		h.kill()
		return nil, fmt.Errorf("forwarder: %w%s", err, h.stderrText())
	}
	var a string
	select {
	case a = <-addr:
	case <-time.After(hopWait):
		return fail(errors.New("no address printed"))
	case <-ctx.Done():
		return fail(ctx.Err())
	}
	if a == "" {
		return fail(errors.New("no address printed"))
	}
	if h.client, err = net.DialTimeout("tcp", a, hopWait); err != nil {
		return fail(err)
	}
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(hopWait))
	if h.inner, err = ln.Accept(); err != nil {
		h.client.Close()
		return fail(err)
	}
	h.copies.Add(2)
	go func() { defer h.copies.Done(); _, _ = io.Copy(h.relay, h.inner) }()
	go func() { defer h.copies.Done(); _, _ = io.Copy(h.inner, h.relay) }()
	return h, nil
}

// close closes every connection of the hop, the relay's included, and waits for the copies and for the
// forwarder to exit (killing it after hopWait).
func (h *hop) close() {
	h.client.Close()
	h.inner.Close()
	h.relay.Close()
	h.copies.Wait()
	exited := make(chan struct{})
	go func() { _ = h.cmd.Wait(); close(exited) }()
	select {
	case <-exited:
	case <-time.After(hopWait):
		_ = h.cmd.Process.Kill()
		<-exited
	}
}

// kill ends a forwarder that failed to set up.
func (h *hop) kill() {
	_ = h.cmd.Process.Kill()
	_ = h.cmd.Wait()
}

func (h *hop) stderrText() string {
	if s := strings.TrimSpace(h.stderr.String()); s != "" {
		return " (" + s + ")"
	}
	return ""
}

// HopForwardMain is the hidden subcommand `ssmbench hop-forward TARGET`, the forwarder of the ceiling+hop
// rows: it listens on 127.0.0.1:0, prints the address in one line on stdout, accepts one connection (within
// 10 s), dials TARGET and copies both ways with io.Copy, passing each direction's end on as a half-close,
// and returns 0 when both directions are done. It models a process hop, not a plugin: no buffering of its
// own, no protocol. Setup failures return 1, a usage error 2.
func HopForwardMain(args []string, stdout, stderr io.Writer) int {
	if len(args) != 1 {
		fmt.Fprintf(stderr, "usage: ssmbench %s HOST:PORT\n", hopCommand)
		return 2
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		fmt.Fprintf(stderr, "ssmbench %s: %v\n", hopCommand, err)
		return 1
	}
	defer ln.Close()
	fmt.Fprintln(stdout, ln.Addr())
	_ = ln.(*net.TCPListener).SetDeadline(time.Now().Add(hopWait))
	c, err := ln.Accept()
	if err != nil {
		fmt.Fprintf(stderr, "ssmbench %s: %v\n", hopCommand, err)
		return 1
	}
	defer c.Close()
	ln.Close()
	t, err := net.DialTimeout("tcp", args[0], hopWait)
	if err != nil {
		fmt.Fprintf(stderr, "ssmbench %s: %v\n", hopCommand, err)
		return 1
	}
	defer t.Close()
	done := make(chan struct{})
	go func() { forward(t, c); close(done) }()
	forward(c, t)
	<-done
	return 0
}

// forward copies from src to dst until src ends, then half-closes dst so that the end travels on.
func forward(dst, src net.Conn) {
	_, _ = io.Copy(dst, src)
	if tc, ok := dst.(*net.TCPConn); ok {
		_ = tc.CloseWrite()
	}
}

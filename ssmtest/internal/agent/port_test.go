package agent

import (
	"encoding/json"
	"errors"
	"io"
	"net"
	"strconv"
	"sync/atomic"
	"testing"
	"time"

	"github.com/xtaci/smux"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// echoServer listens on 127.0.0.1 and echoes every connection; it counts accepted connections.
type echoServer struct {
	ln       net.Listener
	accepted atomic.Int64
	port     string
}

func startEcho(t testing.TB) *echoServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &echoServer{ln: ln, port: strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)}
	done := make(chan struct{})
	go func() {
		defer close(done)
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			s.accepted.Add(1)
			go func() {
				defer c.Close()
				_, _ = io.Copy(c, c)
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		<-done
	})
	return s
}

// vpcHost is a remote host of the emulated VPC; the agent reaches it at 127.0.0.1, where the tests listen
// (the agent refuses loopback hosts in sessions that name one).
const vpcHost = "10.0.0.20"

var vpcHosts = map[string]string{vpcHost: "127.0.0.1"}

func portProps(host, port, typ string) map[string]any {
	p := map[string]any{"portNumber": port, "localPortNumber": "0"}
	if host != "" {
		p["host"] = host
	}
	if typ != "" {
		p["type"] = typ
	}
	return p
}

// muxBridge carries the client's smux bytes over the data channel.
func muxBridge(t testing.TB, c *testClient) *smux.Session {
	clientEnd, bridgeEnd := net.Pipe()
	t.Cleanup(func() { clientEnd.Close(); bridgeEnd.Close() })
	go func() { // client smux → input_stream_data
		buf := make([]byte, 4096)
		for {
			n, err := bridgeEnd.Read(buf)
			if n > 0 {
				c.send(wire.PTOutput, append([]byte(nil), buf[:n]...))
			}
			if err != nil {
				return
			}
		}
	}()
	go func() { // output_stream_data → client smux
		for {
			select {
			case m := <-c.msgs:
				if m.PayloadType == wire.PTOutput {
					if _, err := bridgeEnd.Write(m.Payload); err != nil {
						return
					}
				}
			case <-c.stopped:
				return
			}
		}
	}()
	cfg := smux.DefaultConfig()
	cfg.Version = 1
	cfg.KeepAliveDisabled = true
	sess, err := smux.Client(clientEnd, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sess.Close() })
	return sess
}

func TestPortMux(t *testing.T) {
	echo := startEcho(t)
	props := portProps(vpcHost, echo.port, "LocalPortForwarding")
	c := startClient(t, Config{SessionType: Port, Properties: props, Hosts: vpcHosts, KMSKeyID: "ignored-for-port", KMS: fakeKMS{}})
	req, done := c.handshake("1.2.677.0")
	if req.AgentVersion != "3.3.987.0" || len(req.RequestedClientActions) != 1 {
		t.Fatalf("handshake request %+v (port sessions are never encrypted)", req)
	}
	params, _ := json.Marshal(req.RequestedClientActions[0].ActionParameters)
	var st struct {
		SessionType string
		Properties  map[string]string
	}
	_ = json.Unmarshal(params, &st)
	if st.SessionType != Port || st.Properties["portNumber"] != echo.port || st.Properties["type"] != "LocalPortForwarding" {
		t.Fatalf("SessionType action %s", params)
	}
	if done.CustomerMessage != "" || done.HandshakeTimeToComplete <= 0 {
		t.Fatalf("HandshakeComplete %+v", done)
	}
	if c.a.ClientVersion() != "1.2.677.0" {
		t.Fatalf("ClientVersion %q", c.a.ClientVersion())
	}

	sess := muxBridge(t, c)
	for i := range 2 {
		st, err := sess.OpenStream()
		if err != nil {
			t.Fatal(err)
		}
		msg := []byte("hello over mux " + strconv.Itoa(i))
		if _, err := st.Write(msg); err != nil {
			t.Fatal(err)
		}
		got := make([]byte, len(msg))
		if _, err := io.ReadFull(st, got); err != nil || string(got) != string(msg) {
			t.Fatalf("echo %q %v", got, err)
		}
		st.Close()
	}
	if echo.accepted.Load() != 2 {
		t.Fatalf("destination saw %d connections, want 2", echo.accepted.Load())
	}

	// TerminateSession flag ends the session normally.
	c.send(wire.PTFlag, wire.FlagPayload(wire.FlagTerminateSession))
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestPortMuxDialFailure(t *testing.T) {
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	ln.Close() // nothing listens there now
	c := startClient(t, Config{SessionType: Port, Properties: portProps(vpcHost, port, "LocalPortForwarding"), Hosts: vpcHosts})
	c.handshake("1.2.677.0")
	// Capture the flag before the bridge takes the message stream.
	clientEnd, bridgeEnd := net.Pipe()
	t.Cleanup(func() { clientEnd.Close(); bridgeEnd.Close() })
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := bridgeEnd.Read(buf)
			if n > 0 {
				c.send(wire.PTOutput, append([]byte(nil), buf[:n]...))
			}
			if err != nil {
				return
			}
		}
	}()
	cfg := smux.DefaultConfig()
	cfg.Version = 1
	cfg.KeepAliveDisabled = true
	sess, _ := smux.Client(clientEnd, cfg)
	t.Cleanup(func() { sess.Close() })
	if _, err := sess.OpenStream(); err != nil {
		t.Fatal(err)
	}
	for {
		m := c.next()
		if m.PayloadType == wire.PTFlag {
			if f, _ := wire.ParseFlag(m.Payload); f != wire.FlagConnectToPortError {
				t.Fatalf("flag %d", f)
			}
			return
		}
		_, _ = bridgeEnd.Write(m.Payload)
	}
}

func TestPortBasicReconnects(t *testing.T) {
	echo := startEcho(t)
	// LocalPortForwarding with a client older than 1.1.70: basic mode; empty host means localhost.
	c := startClient(t, Config{SessionType: Port, Properties: portProps("", echo.port, "LocalPortForwarding")})
	c.handshake("1.1.0")
	c.send(wire.PTOutput, []byte("one"))
	if got := c.readOutput("one"); got != "one" {
		t.Fatalf("echo %q", got)
	}
	c.send(wire.PTFlag, wire.FlagPayload(wire.FlagDisconnectToPort))
	c.send(wire.PTOutput, []byte("two"))
	if got := c.readOutput("two"); got != "two" {
		t.Fatalf("echo after reconnect %q", got)
	}
	if n := echo.accepted.Load(); n != 2 {
		t.Fatalf("destination saw %d connections, want 2", n)
	}
	c.send(wire.PTFlag, wire.FlagPayload(wire.FlagTerminateSession))
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestPortOldAgentHasNoMux(t *testing.T) {
	echo := startEcho(t)
	// A current client, but an agent from before port multiplexing: basic mode, raw bytes echo back.
	c := startClient(t, Config{SessionType: Port, Version: "3.0.100.0", Properties: portProps("", echo.port, "LocalPortForwarding")})
	c.handshake("1.2.677.0")
	c.send(wire.PTOutput, []byte("raw"))
	if got := c.readOutput("raw"); got != "raw" {
		t.Fatalf("echo %q", got)
	}
	c.send(wire.PTFlag, wire.FlagPayload(wire.FlagTerminateSession))
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestPortStreamModeEndsOnEOF(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	served := make(chan struct{})
	go func() {
		defer close(served)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		buf := make([]byte, 5)
		if _, err := io.ReadFull(conn, buf); err == nil {
			_, _ = conn.Write([]byte("got " + string(buf)))
		}
	}()
	t.Cleanup(func() { <-served })
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	c := startClient(t, Config{SessionType: Port, Properties: map[string]any{"portNumber": port}})
	c.handshake("1.2.677.0")
	c.send(wire.PTOutput, []byte("hello"))
	if got := c.readOutput("got hello"); got != "got hello" {
		t.Fatalf("output %q", got)
	}
	if err := c.waitDone(); err != nil {
		t.Fatalf("stream mode: destination EOF should end the session successfully, Err = %v", err)
	}
}

func TestPortDataBeforeReadyIsNotAcked(t *testing.T) {
	echo := startEcho(t)
	release := make(chan struct{})
	c := startClient(t, Config{SessionType: Port, Properties: portProps(vpcHost, echo.port, "LocalPortForwarding"), Hosts: vpcHosts,
		beforePluginStart: func() { <-release }})
	c.handshake("1.1.0")
	seq := c.send(wire.PTOutput, []byte("early"))
	// A duplicate of the handshake response is re-acknowledged after the early data was processed.
	c.mu.Lock()
	c.sendSeq(0, wire.PTHandshakeResponse, []byte("{}"))
	c.mu.Unlock()
	select {
	case s := <-c.acks:
		if s != 0 {
			t.Fatalf("ack for seq %d while the plugin was not ready", s)
		}
	case <-time.After(waitLimit):
		t.Fatal("no re-ack of the duplicate")
	}
	if d := c.a.Stats().DuplicatesIn; d != 1 {
		t.Fatalf("DuplicatesIn = %d", d)
	}
	close(release)
	// The client resends; now it is processed and acknowledged.
	c.waitAck(seq)
	if got := c.readOutput("early"); got != "early" {
		t.Fatalf("echo %q", got)
	}
}

func TestHandshakeActionFailure(t *testing.T) {
	c := startClient(t, Config{SessionType: Port, Properties: portProps("", "1", "LocalPortForwarding")})
	c.nextOf(wire.PTHandshakeRequest)
	body, _ := json.Marshal(wire.HandshakeResponse{ClientVersion: "1.2.677.0", ProcessedClientActions: []wire.ProcessedClientAction{
		{ActionType: wire.ActionSessionType, ActionStatus: wire.StatusFailed, Error: "Unknown session type Port"}}})
	c.send(wire.PTHandshakeResponse, body)
	err := c.waitDone()
	want := "Encountered error while initiating handshake. SessionType failed on client with status 2 error: Unknown session type Port"
	if err == nil || err.Error() != want {
		t.Fatalf("Err = %v", err)
	}
}

func TestHandshakeTimeout(t *testing.T) {
	c := startClient(t, Config{SessionType: Port, Properties: portProps("", "1", ""), handshakeTimeout: 50 * time.Millisecond})
	c.nextOf(wire.PTHandshakeRequest)
	if err := c.waitDone(); !errors.Is(err, errHandshakeTimeout) {
		t.Fatalf("Err = %v", err)
	}
}

func TestPacingChunks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	const total = 5000
	served := make(chan struct{})
	go func() {
		defer close(served)
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		_, _ = conn.Write(make([]byte, total))
		_, _ = io.Copy(io.Discard, conn) // until the session closes us
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	c := startClient(t, Config{SessionType: Port, Pacing: true, Properties: map[string]any{"portNumber": port, "host": vpcHost}, Hosts: vpcHosts})
	t.Cleanup(func() { <-served }) // the session ends first (TerminateSession below), closing our connection
	c.handshake("1.2.677.0")
	got := 0
	for got < total {
		m := c.nextOf(wire.PTOutput)
		if len(m.Payload) > 1024 {
			t.Fatalf("paced message of %d bytes", len(m.Payload))
		}
		got += len(m.Payload)
	}
	st := c.a.Stats()
	if st.MessagesOut < total/1024+1+2 || st.BytesOut < total {
		t.Fatalf("stats %+v", st)
	}
	c.send(wire.PTFlag, wire.FlagPayload(wire.FlagTerminateSession))
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	if st := c.a.Stats(); st.MessagesIn < 2 || st.AcksIn < 5 || st.AcksOut < 2 {
		t.Fatalf("stats %+v", st)
	}
}

// TestSlowDestinationHoldsAcks: the agent acknowledges client data only once it is written to the
// destination connection, on its one reader: while the destination does not read, acknowledgements stop
// (the client must keep its data and resend), and they resume when it reads.
func TestSlowDestinationHoldsAcks(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	accepted := make(chan net.Conn, 1)
	go func() {
		c, err := ln.Accept()
		if err == nil {
			accepted <- c
		}
	}()
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	c := startClient(t, Config{SessionType: Port, Properties: portProps("", port, "")})
	c.handshake("1.2.677.0")
	dest := <-accepted
	t.Cleanup(func() { dest.Close() })
	// A fixed, small receive buffer: Linux otherwise grows a loopback connection's buffer up to
	// net.ipv4.tcp_rmem's maximum (32 MiB on some machines), and the destination would never fall behind.
	if err := dest.(*net.TCPConn).SetReadBuffer(64 << 10); err != nil {
		t.Fatal(err)
	}

	// Input that arrives before the port plugin is ready is not acknowledged and waits for a resend, so one
	// message goes first, resent until acknowledged; after that each message is sent once and counted once.
	c.send(wire.PTOutput, []byte{0})
	testkit.WaitFor(t, "the first message acknowledged", func() bool { return c.a.Stats().AcksOut >= 2 })
	c.noResend.Store(true)

	const msgs = 20000 // 20 MB: more than the socket buffers between the agent and a destination that does not read
	chunk := make([]byte, 1024)
	sent := make(chan struct{})
	go func() {
		defer close(sent)
		for range msgs {
			c.send(wire.PTOutput, chunk)
		}
	}()
	// The reader blocks in the write: acknowledgements stop, and the input queue behind it fills up.
	testkit.WaitFor(t, "acknowledgements stall behind the destination", func() bool {
		st := c.a.Stats()
		return st.MessagesIn >= st.AcksOut+inQueueLen
	})
	stalled := c.a.Stats().AcksOut
	if stalled >= msgs {
		t.Fatalf("all %d messages acknowledged although the destination read nothing", stalled)
	}
	go io.Copy(io.Discard, dest)
	<-sent
	testkit.WaitFor(t, "every message acknowledged once the destination reads", func() bool {
		return c.a.Stats().AcksOut >= msgs+2 // + the handshake response and the first message
	})
}

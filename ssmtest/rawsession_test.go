package ssmtest

import (
	"fmt"
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

func TestRawSessionShell(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true}, false)
	id, url, token := startShell(t, s)
	c := &rawClient{t: t, ws: dial(t, url, token)}
	// The raw client does not retransmit, so wait until the shell is up (its prompt) before typing.
	c.until(func() bool { return c.stdout.Len() > 0 })
	c.send(wire.PTOutput, []byte("echo h''i\n"))
	c.until(func() bool {
		return strings.Contains(c.stdout.String(), "hi\r\n") || strings.Contains(c.stdout.String(), "hi\n")
	})
	c.send(wire.PTOutput, []byte("exit\n"))
	c.drain()
	if c.closed.SessionId != id || c.closed.Output != "" {
		t.Errorf("channel_closed %+v", c.closed)
	}
	info := s.Session(id)
	<-info.Done
	info = s.Session(id)
	if info.Err != nil || info.Agent.MessagesIn < 2 || info.Stats.AcksToClient < 1 || info.Stats.AcksToAgent == 0 {
		t.Errorf("session %+v", info)
	}
}

func TestRawSessionRunCommand(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true}, false)
	out, err := ssmClient(s).StartSession(testkit.Context(t), &ssm.StartSessionInput{
		Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocRunCommand),
		Parameters: map[string][]string{"command": {"sh -c 'echo out; echo err >&2; exit 3'"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, ws: dial(t, *out.StreamUrl, *out.TokenValue)}
	c.drain()
	if c.stdout.String() != "out\n" || c.stderr.String() != "err\n" || c.exit != "EXIT_CODE: 3" {
		t.Errorf("stdout %q stderr %q exit %q", c.stdout.String(), c.stderr.String(), c.exit)
	}
}

func runCommand(t *testing.T, s *Server, command string) (*rawClient, string) {
	t.Helper()
	out, err := ssmClient(s).StartSession(testkit.Context(t), &ssm.StartSessionInput{
		Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocRunCommand),
		Parameters: map[string][]string{"command": {command}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, ws: dial(t, *out.StreamUrl, *out.TokenValue)}
	c.drain()
	<-s.Session(*out.SessionId).Done
	return c, *out.SessionId
}

func TestRawSessionDuplicatesReachAgent(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true}, false)
	s.Faults().Set(ToAgent, LinkFaults{Duplicate: 1})
	c, id := runCommand(t, s, "echo dup")
	if c.stdout.String() != "dup\n" || c.exit != "EXIT_CODE: 0" {
		t.Errorf("stdout %q exit %q", c.stdout.String(), c.exit)
	}
	st := s.Session(id).Stats
	if st.DuplicatesAtAgent == 0 || st.Faults.ToAgent.Duplicated == 0 {
		t.Errorf("DuplicatesAtAgent %d, Duplicated %d", st.DuplicatesAtAgent, st.Faults.ToAgent.Duplicated)
	}
}

func TestRawSessionLossyOutput(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true}, false)
	s.Faults().Set(ToClient, LinkFaults{Drop: 0.1, Reorder: 0.2, Duplicate: 0.2})
	c, id := runCommand(t, s, "sh -c 'i=0; while [ $i -lt 20 ]; do echo line $i; i=$((i+1)); sleep 0.05; done'")
	var want strings.Builder
	for i := range 20 {
		fmt.Fprintf(&want, "line %d\n", i)
	}
	if c.stdout.String() != want.String() || c.exit != "EXIT_CODE: 0" {
		t.Errorf("stdout %q exit %q", c.stdout.String(), c.exit)
	}
	info := s.Session(id)
	if f := info.Stats.Faults.ToClient; f.Dropped == 0 || info.Agent.Resends == 0 {
		t.Errorf("faults %+v, agent resends %d", f, info.Agent.Resends)
	}
}

func TestRawSessionKMS(t *testing.T) {
	s := newTestServer(t, &Options{NoPacing: true, KMSKeyID: "alias/ssm-sessions"}, false)
	out, err := ssmClient(s).StartSession(testkit.Context(t), &ssm.StartSessionInput{
		Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocRunCommand),
		Parameters: map[string][]string{"command": {"sh -c 'echo secret; echo oops >&2; exit 5'"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, ws: dial(t, *out.StreamUrl, *out.TokenValue), kms: kmsClient(s),
		sessionID: *out.SessionId, target: DefaultInstanceID}
	c.drain()
	if c.dataKey == nil {
		t.Fatal("no KMS handshake action")
	}
	if c.stdout.String() != "secret\n" || c.stderr.String() != "oops\n" || c.exit != "EXIT_CODE: 5" || c.closed.Output != "" {
		t.Errorf("stdout %q stderr %q exit %q closed %+v", c.stdout.String(), c.stderr.String(), c.exit, c.closed)
	}
	if st := s.Stats(); st.DataKeys != 1 || st.Decrypts != 1 {
		t.Errorf("DataKeys %d Decrypts %d, want 1 and 1 (the agent's)", st.DataKeys, st.Decrypts)
	}
}

func TestRawSessionPortStream(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		conn, err := ln.Accept()
		if err != nil {
			return
		}
		defer conn.Close()
		io.Copy(conn, conn) // echo until the agent closes
	}()
	s := newTestServer(t, &Options{NoPacing: true}, false)
	port := strconv.Itoa(ln.Addr().(*net.TCPAddr).Port)
	out, err := ssmClient(s).StartSession(testkit.Context(t), &ssm.StartSessionInput{
		Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocSSH),
		Parameters: map[string][]string{"portNumber": {port}},
	})
	if err != nil {
		t.Fatal(err)
	}
	c := &rawClient{t: t, ws: dial(t, *out.StreamUrl, *out.TokenValue)}
	c.resendEvery(50 * time.Millisecond)
	c.until(func() bool { return c.handshakeDone })
	c.send(wire.PTOutput, []byte("ping"))
	c.until(func() bool { return c.stdout.String() == "ping" })
	c.send(wire.PTFlag, wire.FlagPayload(wire.FlagTerminateSession))
	c.drain()
	if c.closed.Output != "" {
		t.Errorf("channel_closed output %q", c.closed.Output)
	}
	if info := s.Session(*out.SessionId); info.Properties["portNumber"] != port || info.SessionType != SessionTypePort {
		t.Errorf("session %+v", info)
	}
}

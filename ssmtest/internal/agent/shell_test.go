package agent

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

func TestShellPty(t *testing.T) {
	c := startClient(t, Config{SessionType: StandardStream})
	// No handshake without KMS: the agent just starts; input before the pty is up is resent by the client.
	size, _ := json.Marshal(wire.SizeData{Cols: 120, Rows: 40})
	c.send(wire.PTSize, size)
	c.send(wire.PTOutput, []byte("stty size; echo hello-$((40+2))\r"))
	out := c.readOutput("hello-42")
	if !strings.Contains(out, "40 120") {
		t.Fatalf("pty size not applied: %q", out)
	}
	c.send(wire.PTOutput, []byte("exit\r"))
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestInteractiveCommands(t *testing.T) {
	c := startClient(t, Config{SessionType: InteractiveCommands,
		Properties: map[string]any{"linux": map[string]any{"commands": "tty >/dev/null && echo on-a-tty"}}})
	c.readOutput("on-a-tty")
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestNonInteractiveSeparateStreams(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{
		"commands": "echo out; echo err >&2; exit 3", "separateOutputStream": true}})
	req, done := c.handshake("1.2.677.0")
	params, _ := req.RequestedClientActions[0].ActionParameters.(map[string]any)
	if props, ok := params["Properties"]; !ok || props != nil || params["SessionType"] != NonInteractiveCommands {
		t.Fatalf("SessionType action %v", params)
	}
	if done.CustomerMessage != "" {
		t.Fatalf("CustomerMessage %q", done.CustomerMessage)
	}
	var stdout, stderr string
	for {
		m := c.next()
		switch m.PayloadType {
		case wire.PTOutput:
			stdout += string(m.Payload)
			continue
		case wire.PTStdErr:
			stderr += string(m.Payload)
			continue
		case wire.PTExitCode:
			if code, err := wire.ParseExitCode(m.Payload); err != nil || code != 3 {
				t.Fatalf("exit code %q", m.Payload)
			}
		default:
			t.Fatalf("payload type %d", m.PayloadType)
		}
		break
	}
	if stdout != "out\n" || stderr != "err\n" {
		t.Fatalf("stdout %q stderr %q", stdout, stderr)
	}
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestNonInteractiveSeparationNoticeForOldClient(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{
		"commands": "true", "separateOutputStream": "true"}})
	_, done := c.handshake("1.2.290.0")
	if !strings.HasPrefix(done.CustomerMessage, "Please update session manager plugin version") {
		t.Fatalf("CustomerMessage %q", done.CustomerMessage)
	}
}

func TestNonInteractiveMergedStdinAndSignal(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{
		"commands": "trap 'echo got-int; exit 0' INT; read line; echo \"read:$line\"; echo oops >&2; while :; do sleep 0.01; done"}})
	c.handshake("1.2.677.0")
	c.send(wire.PTOutput, []byte("abc\n"))
	c.readOutput("oops") // stderr arrives as Output without separation
	c.send(wire.PTOutput, []byte{ctrlC})
	out := c.readOutput("got-int")
	if strings.Contains(out, "EXIT_CODE") {
		t.Fatalf("exit code sent without separation: %q", out)
	}
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

func TestNonInteractiveCannotStart(t *testing.T) {
	t.Setenv("PATH", "/nonexistent") // sh cannot be found
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{
		"commands": "exit 0", "separateOutputStream": true}})
	c.handshake("1.2.677.0")
	m := c.nextOf(wire.PTExitCode)
	if code, _ := wire.ParseExitCode(m.Payload); code != 1 {
		t.Fatalf("exit code %q", m.Payload)
	}
	if err := c.waitDone(); err == nil {
		t.Fatal("Err = nil for a command that cannot start")
	}
}

package agent

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"

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
		"commands": "sh -c 'echo out; echo err >&2; exit 3'", "separateOutputStream": true}})
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

// TestNonInteractiveRunsNoShell: the agent splits the command into words and executes it; ;, $ and > are
// ordinary characters.
func TestNonInteractiveRunsNoShell(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{
		"commands": `echo a; "b  c" 'it'\''s' $HOME > x`, "separateOutputStream": true}})
	c.handshake("1.2.677.0")
	if got := c.readOutput("\n"); got != "a; b  c it's $HOME > x\n" {
		t.Fatalf("output %q", got)
	}
	if m := c.nextOf(wire.PTExitCode); string(m.Payload) != "EXIT_CODE: 0" {
		t.Fatalf("exit code %q", m.Payload)
	}
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

// TestNonInteractiveNoStdin: the command reads /dev/null; input payloads are acknowledged and dropped.
func TestNonInteractiveNoStdin(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{
		"commands": "sh -c 'sleep 1; read line; echo \"read:$?:$line\"'", "separateOutputStream": true}})
	c.handshake("1.2.677.0")
	c.waitAck(c.send(wire.PTOutput, []byte("typed\n"))) // while the command sleeps
	if got := c.readOutput("\n"); got != "read:1:\n" {
		t.Fatalf("output %q", got)
	}
}

// TestNonInteractiveCombinedAfterExit: without separated streams the agent collects stdout and stderr in a
// file and sends it only once the command has exited; no exit code.
func TestNonInteractiveCombinedAfterExit(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Pacing: true, Properties: map[string]any{
		"commands": "sh -c 'echo first; sleep 0.2; echo second >&2; exit 4'"}})
	c.handshake("1.2.677.0")
	if m := c.nextOf(wire.PTOutput); string(m.Payload) != "first\nsecond\n" {
		t.Fatalf("first output message %q: sent before the command ended?", m.Payload)
	}
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	for _, m := range c.rawMessages() {
		if m.PayloadType == wire.PTExitCode {
			t.Fatalf("exit code sent without separation: %q", m.Payload)
		}
	}
}

// TestNonInteractiveSignalHoldsReader: 0x03 anywhere in a payload sends SIGINT to the command, and the agent
// processes no further input (nor acknowledges it) until the command has exited.
func TestNonInteractiveSignalHoldsReader(t *testing.T) {
	flag := t.TempDir() + "/go"
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{
		"commands":             "sh -c 'trap \"echo got-int\" INT; echo ready; while [ ! -e " + flag + " ]; do sleep 0.01; done; exit 5'",
		"separateOutputStream": true}})
	c.handshake("1.2.677.0")
	c.readOutput("ready")
	c.send(wire.PTOutput, []byte{'x', ctrlC, 'y'}) // acknowledged only once the command has exited
	c.readOutput("got-int")
	c.send(wire.PTOutput, []byte("later"))
	select {
	case s := <-c.acks:
		t.Fatalf("ack for %d while the agent waits for the signalled command", s)
	case <-time.After(300 * time.Millisecond):
	}
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	// The reader is released when the command exits, which also ends the session: whether "later" is still
	// acknowledged then is a race in the real agent too.
	if m := c.nextOf(wire.PTExitCode); string(m.Payload) != "EXIT_CODE: 5" {
		t.Fatalf("exit code %q", m.Payload)
	}
}

// TestNonInteractiveCannotStart: EXIT_CODE: 1 first, the start error as StdErr without a newline about 1 s
// later, then the session fails.
func TestNonInteractiveCannotStart(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{
		"commands": "no-such-program-ssmtest arg", "separateOutputStream": true}})
	c.handshake("1.2.677.0")
	m := c.nextOf(wire.PTExitCode)
	if code, _ := wire.ParseExitCode(m.Payload); code != 1 {
		t.Fatalf("exit code %q", m.Payload)
	}
	sent := time.Now()
	m = c.nextOf(wire.PTStdErr)
	if d := time.Since(sent); d < 900*time.Millisecond {
		t.Errorf("error text after %v, want ≈ 1 s", d)
	}
	if want := `exec: "no-such-program-ssmtest": executable file not found in $PATH`; string(m.Payload) != want {
		t.Fatalf("StdErr %q, want %q", m.Payload, want)
	}
	if err := c.waitDone(); err == nil || !strings.Contains(err.Error(), "no-such-program-ssmtest") {
		t.Fatalf("Err = %v", err)
	}
}

// TestNonInteractiveParseError: a command shlex cannot split fails about 3 s later with the agent's text.
func TestNonInteractiveParseError(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{"commands": `echo "open`}})
	c.handshake("1.2.677.0")
	m := c.nextOf(wire.PTStdErr)
	if want := "Unable to start command: Failed to parse commands input: EOF found when expecting closing quote\n\n"; string(m.Payload) != want {
		t.Fatalf("StdErr %q", m.Payload)
	}
	if err := c.waitDone(); err == nil {
		t.Fatal("Err = nil")
	}
}

// TestContainerModeInteractive: in a container the agent runs InteractiveCommands without a shell too.
func TestContainerModeInteractive(t *testing.T) {
	c := startClient(t, Config{SessionType: InteractiveCommands, ContainerMode: true,
		Properties: map[string]any{"commands": "echo no; shell"}})
	c.readOutput("no; shell")
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

// TestSeparatedOutputStopsWhenPaused: the agent's separated stdout/stderr readers give up when they find
// the data channel paused (MGS pauses it while the client is away), and the exit code is not sent while
// paused: a command that ends during the pause ends the session without an exit code.
func TestSeparatedOutputStopsWhenPaused(t *testing.T) {
	flag := t.TempDir() + "/go"
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Properties: map[string]any{
		"commands":             "sh -c 'echo first; while [ ! -e " + flag + " ]; do sleep 0.01; done; echo second; exit 2'",
		"separateOutputStream": true}})
	c.handshake("1.2.677.0")
	c.readOutput("first")
	c.control(wire.PausePublication)
	if err := os.WriteFile(flag, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
	for _, m := range c.rawMessages() {
		if m.PayloadType == wire.PTExitCode {
			t.Fatalf("exit code %q sent while the channel was paused", m.Payload)
		}
	}
}

// TestTerminateWhileInputBlocked ends a session whose program reads none of its input: the agent's writes to
// the pseudo-terminal fill it and block, and Terminate must still end the session (the program is killed and
// the terminal closed) rather than wait for a write that can never finish.
func TestTerminateWhileInputBlocked(t *testing.T) {
	c := startClient(t, Config{SessionType: InteractiveCommands,
		Properties: map[string]any{"linux": map[string]any{"commands": "stty raw -echo; echo ready; sleep 60"}}})
	c.readOutput("ready")
	c.noResend.Store(true)
	chunk := []byte(strings.Repeat("x", 1023) + "\n")
	for range 256 { // far more than a terminal buffers
		c.send(wire.PTOutput, chunk)
	}
	c.a.Terminate()
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

// TestInputAfterProgramExited sends input to a pseudo-terminal whose program has exited: nobody will ever
// read it, the agent's write blocks once the terminal is full, and the session must still end.
func TestInputAfterProgramExited(t *testing.T) {
	c := startClient(t, Config{SessionType: InteractiveCommands,
		Properties: map[string]any{"linux": map[string]any{"commands": "stty raw -echo; echo ready"}}})
	c.readOutput("ready")
	c.noResend.Store(true)
	chunk := []byte(strings.Repeat("y", 1024))
	for range 256 {
		c.send(wire.PTOutput, chunk)
	}
	if err := c.waitDone(); err != nil {
		t.Fatalf("Err = %v", err)
	}
}

package bench

import (
	"bufio"
	"bytes"
	"context"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain lets the test binary stand in for ssmbench as the forwarder of the ceiling+hop rows: behindHop
// runs os.Executable with the hop-forward subcommand.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == hopCommand {
		os.Exit(Main(context.Background(), os.Args[1:], os.Stdout, os.Stderr))
	}
	os.Exit(m.Run())
}

// The forwarder prints its address, carries bytes both ways, passes each direction's end on as a
// half-close, and returns 0 once both directions are done.
func TestHopForwardMain(t *testing.T) {
	target, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer target.Close()
	pr, pw := io.Pipe()
	var stderr bytes.Buffer
	code := make(chan int, 1)
	go func() { code <- HopForwardMain([]string{target.Addr().String()}, pw, &stderr); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	go io.Copy(io.Discard, pr)
	c, err := net.Dial("tcp", strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	far, err := target.Accept()
	if err != nil {
		t.Fatal(err)
	}
	defer far.Close()
	_ = c.SetDeadline(time.Now().Add(time.Minute))
	_ = far.SetDeadline(time.Now().Add(time.Minute))

	up := bytes.Repeat([]byte("up"), 100<<10)
	go func() { c.Write(up); c.(*net.TCPConn).CloseWrite() }()
	got, err := io.ReadAll(far) // ends at the client's half-close, passed on
	if err != nil || !bytes.Equal(got, up) {
		t.Fatalf("target read %d bytes (%v), want the client's %d then EOF", len(got), err, len(up))
	}
	down := []byte("down the other way")
	if _, err := far.Write(down); err != nil {
		t.Fatal(err)
	}
	far.Close()
	got, err = io.ReadAll(c)
	if err != nil || !bytes.Equal(got, down) {
		t.Fatalf("client read %q (%v), want %q then EOF", got, err, down)
	}
	select {
	case n := <-code:
		if n != 0 {
			t.Errorf("exit code %d, want 0; stderr %q", n, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("forwarder did not return after both directions ended")
	}
}

func TestHopForwardMainErrors(t *testing.T) {
	var out, stderr bytes.Buffer
	if code := Main(context.Background(), []string{hopCommand}, &out, &stderr); code != 2 || !strings.Contains(stderr.String(), "usage") {
		t.Errorf("no target: exit %d, stderr %q; want 2 and the usage", code, stderr.String())
	}
	// A target nobody listens on: the forwarder accepts, fails to dial, says so and returns 1.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	dead := l.Addr().String()
	l.Close()
	pr, pw := io.Pipe()
	stderr.Reset()
	code := make(chan int, 1)
	go func() { code <- HopForwardMain([]string{dead}, pw, &stderr); pw.Close() }()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	c, err := net.Dial("tcp", strings.TrimSpace(line))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if n := <-code; n != 1 || !strings.Contains(stderr.String(), "hop-forward") {
		t.Errorf("dead target: exit %d, stderr %q; want 1 and the error", n, stderr.String())
	}
}

// behindHop runs the forwarder as a process (this test binary, through TestMain): bytes cross it both ways
// to the relay's connection, and it exits cleanly when the hop is closed.
func TestBehindHop(t *testing.T) {
	d, err := newDest(destEcho, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer d.close()
	relay, err := net.Dial("tcp", d.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	h, err := behindHop(context.Background(), relay)
	if err != nil {
		t.Fatal(err)
	}
	_ = h.client.SetDeadline(time.Now().Add(time.Minute))
	for _, msg := range []string{"one", strings.Repeat("x", 256<<10)} {
		if _, err := h.client.Write([]byte(msg)); err != nil {
			t.Fatal(err)
		}
		back := make([]byte, len(msg))
		if _, err := io.ReadFull(h.client, back); err != nil || string(back) != msg {
			t.Fatalf("echo of %d bytes through the hop: %v", len(msg), err)
		}
	}
	h.close()
	if !h.cmd.ProcessState.Success() {
		t.Errorf("forwarder exit %v, stderr %q", h.cmd.ProcessState, h.stderr.String())
	}
}

// With HopCeiling, every mode has a ceiling+hop row next to the ceiling's, measured like it, and a plugin's
// table divides by it and checks the echo goal against it (the plugin here is the emulator's figures).
func TestRunHopCeiling(t *testing.T) {
	cfg := testConfig(1 << 20)
	cfg.HopCeiling = true
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Rows) != 4 {
		t.Fatalf("rows = %d, want ceiling and %s in both modes", len(rep.Rows), HopName)
	}
	for _, mode := range cfg.Modes {
		h := rep.row(HopName, mode)
		if h == nil || !h.Hop || !h.Ceiling {
			t.Fatalf("%s: hop row %+v", mode, h)
		}
		checkRow(t, h)
		if h.Runs != 1 || h.Session.DuplicatesAtAgent != 0 {
			t.Errorf("%s: runs %d, duplicates %d", mode, h.Runs, h.Session.DuplicatesAtAgent)
		}
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil || !strings.Contains(out.String(), HopName) {
		t.Errorf("text report (%v) lacks the %s column:\n%s", err, HopName, out.String())
	}
}

// The report divides the baseline by the hop row and checks issue 18's echo goal against it.
func TestHopColumnAndGoal(t *testing.T) {
	rep := &Report{
		Modes:   []Mode{ModeMux},
		Plugins: []Plugin{{Name: "ours", Path: "/x"}},
		Rows: []Row{
			{Name: CeilingName, Mode: ModeMux, Ceiling: true, EchoP50us: 80},
			{Name: HopName, Mode: ModeMux, Ceiling: true, Hop: true, EchoP50us: 150},
			{Name: "ours", Mode: ModeMux, EchoP50us: 200, PeakRSSMiB: 10},
		},
	}
	var goal *Goal
	for _, g := range rep.CheckGoals() {
		if strings.Contains(g.Goal, "hop ceiling") {
			goal = &g
		}
	}
	if goal == nil || goal.Status != "met" || !strings.Contains(goal.Measured, "+50 µs") {
		t.Errorf("hop echo goal = %+v, want met at +50 µs", goal)
	}
	rep.Rows[2].EchoP50us = 211
	for _, g := range rep.CheckGoals() {
		if strings.Contains(g.Goal, "hop ceiling") && g.Status != "not met" {
			t.Errorf("at +61 µs: %+v, want not met", g)
		}
	}
	rep.Goals = rep.CheckGoals()
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil {
		t.Fatal(err)
	}
	text := out.String()
	for _, want := range []string{"ours÷ceiling+hop", "echo p50 ≤ hop ceiling + 60 µs", "column ceiling+hop: the ceiling relay behind one forwarder process"} {
		if !strings.Contains(text, want) {
			t.Errorf("text report lacks %q:\n%s", want, text)
		}
	}
	// The echo line: ceiling 80, hop 150, ours 211, ours÷ceiling 2.64×, ours÷ceiling+hop 1.41×.
	for _, line := range strings.Split(text, "\n") {
		if strings.Contains(line, "echo p50 µs") && !strings.Contains(line, "1.41×") {
			t.Errorf("echo line lacks ours÷ceiling+hop 1.41×: %q", line)
		}
	}
}

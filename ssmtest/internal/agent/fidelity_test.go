package agent

import (
	"context"
	"encoding/json"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"
	"unicode/utf8"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// wireLog records what an agent sends, in a synctest bubble.
type wireLog struct {
	mu     sync.Mutex
	frames []*wire.Message
	onSend func(m *wire.Message) // called from Send, outside mu
}

func (l *wireLog) send(frame []byte) {
	m, err := wire.Decode(frame)
	if err != nil {
		panic(err)
	}
	l.mu.Lock()
	l.frames = append(l.frames, m)
	f := l.onSend
	l.mu.Unlock()
	if f != nil {
		f(m)
	}
}

// outputSeqs returns the sequence numbers of the output_stream_data frames sent so far, resends included.
func (l *wireLog) outputSeqs() []int64 {
	l.mu.Lock()
	defer l.mu.Unlock()
	var s []int64
	for _, m := range l.frames {
		if m.Type == wire.OutputStreamData {
			s = append(s, m.Seq)
		}
	}
	return s
}

// ackFrame and controlFrame panic on an encoding error so that a test cannot pass vacuously.
func ackFrame(m *wire.Message) []byte {
	body, _ := json.Marshal(wire.AckBody{AcknowledgedMessageType: m.Type, AcknowledgedMessageId: wire.FormatID(m.ID),
		AcknowledgedMessageSequenceNumber: m.Seq, IsSequentialMessage: true})
	return mustEncode(&wire.Message{Type: wire.Acknowledge, SchemaVersion: 1, CreatedDate: nowMillis(), Flags: 3, ID: wire.NewID(), Payload: body})
}

func controlFrame(typ string) []byte {
	return mustEncode(&wire.Message{Type: typ, SchemaVersion: 1, CreatedDate: nowMillis(), ID: wire.NewID()})
}

func mustEncode(m *wire.Message) []byte {
	f, err := wire.Encode(m)
	if err != nil {
		panic(err)
	}
	if _, err := wire.Decode(f); err != nil {
		panic(err)
	}
	return f
}

// channelAgent is an Agent with only its data channel and resend scheduler running (no session, no plugin).
func channelAgent(t *testing.T, l *wireLog) *Agent {
	a := &Agent{cfg: Config{Send: l.send}, log: slog.New(slog.DiscardHandler), quit: make(chan struct{}), done: make(chan struct{})}
	a.ctx, a.cancel = context.WithCancelCause(t.Context())
	a.ch.init()
	a.wg.Add(1)
	go a.resendLoop()
	t.Cleanup(func() {
		close(a.quit)
		a.wg.Wait()
	})
	return a
}

// TestAckBeforeBuffering: the agent writes a message before it buffers it, so an acknowledgement that
// arrives in between (here: during the write) matches nothing; the message is resent when overdue and the
// acknowledgement of that duplicate removes it.
func TestAckBeforeBuffering(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &wireLog{}
		a := channelAgent(t, l)
		first := true
		l.onSend = func(m *wire.Message) {
			if m.Type == wire.OutputStreamData && first {
				first = false
				a.Deliver(ackFrame(m)) // the client's ack overtakes the agent's bookkeeping
			}
		}
		if err := a.sendStream(wire.PTOutput, []byte("early ack")); err != nil {
			t.Fatal(err)
		}
		if n := a.Stats().AcksIn; n != 1 {
			t.Fatalf("AcksIn = %d", n)
		}
		if n := a.ch.pending(); n != 1 {
			t.Fatalf("pending = %d: the early acknowledgement matched the message", n)
		}
		time.Sleep(defaultRTO + resendInterval)
		synctest.Wait()
		if seqs := l.outputSeqs(); len(seqs) != 2 || seqs[1] != 0 {
			t.Fatalf("output frames %v, want the message and one resend", seqs)
		}
		a.Deliver(ackFrame(&wire.Message{Type: wire.OutputStreamData, Seq: 0, ID: wire.NewID()}))
		if n := a.ch.pending(); n != 0 {
			t.Fatalf("pending = %d after the duplicate's acknowledgement", n)
		}
	})
}

// TestResendOldestOnly: of several unacknowledged messages only the oldest is resent, at most once per
// 100 ms tick and once per RTO; resuming publication (a reconnect) resends nothing at once.
func TestResendOldestOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &wireLog{}
		a := channelAgent(t, l)
		for range 3 {
			if err := a.sendStream(wire.PTOutput, []byte("never acked")); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(time.Second + time.Millisecond)
		synctest.Wait()
		seqs := l.outputSeqs()
		resends := seqs[3:]
		if len(resends) == 0 || len(resends) > 10 {
			t.Fatalf("%d resends in 1 s: %v", len(resends), seqs)
		}
		for _, s := range resends {
			if s != 0 {
				t.Fatalf("resent seq %d; only the oldest is resent: %v", s, seqs)
			}
		}
		// The initial RTO is 200 ms and the head's send time is written back: resent at most every 200 ms.
		if len(resends) > 5 {
			t.Fatalf("%d resends in 1 s with a 200 ms RTO", len(resends))
		}
		// A reconnect: MGS pauses publication while the client is away and resumes it afterwards.
		a.Deliver(controlFrame(wire.PausePublication))
		synctest.Wait()
		paused := len(l.outputSeqs())
		time.Sleep(3 * time.Second)
		synctest.Wait()
		before := len(l.outputSeqs())
		if before != paused {
			t.Fatalf("%d resends while publication was paused", before-paused)
		}
		a.Deliver(controlFrame(wire.StartPublication))
		synctest.Wait()
		if n := len(l.outputSeqs()); n != before {
			t.Fatalf("%d frames sent at once when publication resumed", n-before)
		}
		time.Sleep(resendInterval)
		synctest.Wait()
		if got := l.outputSeqs()[before:]; len(got) != 1 || got[0] != 0 {
			t.Fatalf("after resuming: %v, want one resend of seq 0 at the next tick", got)
		}
	})
}

// endPlugin sends one message and then ends by itself (or, if block, runs until the session ends).
type endPlugin struct {
	a     *Agent
	block bool
}

func (p *endPlugin) start(context.Context) error { return p.a.sendStream(wire.PTOutput, []byte("bye")) }
func (p *endPlugin) input(uint32, []byte) error  { return nil }
func (p *endPlugin) close()                      {}
func (p *endPlugin) wait(ctx context.Context) error {
	if p.block {
		<-ctx.Done()
		return ctx.Err()
	}
	return nil
}

// TestCloseDrainsTwice: with its output unacknowledged, a session whose plugin ended by itself closes after
// 2 × 2 s (the plugin's PrepareToCloseChannel, then the session plugin's); a terminated one after 2 s.
func TestCloseDrainsTwice(t *testing.T) {
	for _, tc := range []struct {
		name      string
		terminate bool
		want      time.Duration
	}{{"ended", false, 2 * drainTimeout}, {"terminated", true, drainTimeout}} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := &wireLog{}
				a, err := Start(t.Context(), Config{SessionType: StandardStream, Send: l.send,
					testPlugin: func(a *Agent) plugin { return &endPlugin{a: a, block: tc.terminate} }})
				if err != nil {
					t.Fatal(err)
				}
				start := time.Now()
				if tc.terminate {
					synctest.Wait()
					a.Terminate()
				}
				<-a.Done()
				if d := time.Since(start); d != tc.want {
					t.Fatalf("session closed after %v, want %v", d, tc.want)
				}
			})
		})
	}
}

// blockPlugin's input blocks until released, like a write to a destination that does not read.
type blockPlugin struct {
	a       *Agent
	release chan struct{}
	got     chan string
}

func (p *blockPlugin) start(context.Context) error { return nil }
func (p *blockPlugin) input(_ uint32, b []byte) error {
	<-p.release
	p.got <- string(b)
	return nil
}
func (p *blockPlugin) wait(ctx context.Context) error { <-ctx.Done(); return ctx.Err() }
func (p *blockPlugin) close()                         {}

// TestAckAfterWrite: input is acknowledged only after the plugin wrote it to its destination, and one
// reader handles all input: while a write blocks, nothing else is acknowledged, not even messages ahead.
func TestAckAfterWrite(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := &wireLog{}
		p := &blockPlugin{release: make(chan struct{}), got: make(chan string, 3)}
		a, err := Start(t.Context(), Config{SessionType: StandardStream, Send: l.send,
			testPlugin: func(a *Agent) plugin { p.a = a; return p }})
		if err != nil {
			t.Fatal(err)
		}
		defer func() { a.Terminate(); <-a.Done() }()
		synctest.Wait() // the plugin is up
		for _, seq := range []int64{0, 2, 1} {
			a.Deliver(mustEncode(&wire.Message{Type: wire.InputStreamData, SchemaVersion: 1, CreatedDate: nowMillis(), Seq: seq,
				ID: wire.NewID(), PayloadType: wire.PTOutput, Payload: []byte{byte('a' + seq)}}))
		}
		time.Sleep(5 * time.Second)
		synctest.Wait()
		if n := a.Stats().AcksOut; n != 0 {
			t.Fatalf("%d acknowledgements while the destination write blocks", n)
		}
		close(p.release)
		synctest.Wait()
		if n := a.Stats().AcksOut; n != 3 {
			t.Fatalf("AcksOut = %d after the writes, want 3", n)
		}
		if got := <-p.got + <-p.got + <-p.got; got != "abc" {
			t.Fatalf("written %q, want abc in sequence order", got)
		}
	})
}

func TestUTF8Split(t *testing.T) {
	for _, tc := range []struct{ in, send, held string }{
		{"abc", "abc", ""},
		{"ab\xc3", "ab", "\xc3"},         // first byte of é
		{"ab\xe2\x82", "ab", "\xe2\x82"}, // two bytes of €
		{"a\xe2\x82\xac", "a\xe2\x82\xac", ""},
		{"\xffabcd", "\xffabcd", ""},                 // invalid, not within the last 3 bytes: sent as it is
		{"ab\xff", "ab", "\xff"},                     // invalid within the last 3 bytes: held back
		{"abcd\xef\xbf\xbdefgh", "abcd\xefefgh", ""}, // the agent's quirk: a real U+FFFD loses two bytes
	} {
		send, held := utf8Split([]byte(tc.in))
		if string(send) != tc.send || string(held) != tc.held {
			t.Errorf("utf8Split(%q) = %q, %q; want %q, %q", tc.in, send, held, tc.send, tc.held)
		}
	}
}

// TestOutputUTF8HeldBack: output read in 1024-byte pieces never splits a character: a message carries at
// most 1027 bytes and is valid UTF-8 on its own.
func TestOutputUTF8HeldBack(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Pacing: true, Properties: map[string]any{
		"commands": `sh -c 'printf a; i=0; while [ $i -lt 3000 ]; do printf "é€"; i=$((i+1)); done'`, "separateOutputStream": true}})
	c.handshake("1.2.677.0")
	var got []byte
	for {
		m := c.next()
		if m.PayloadType == wire.PTExitCode {
			break
		}
		if len(m.Payload) > pacedChunk+utf8.UTFMax-1 || !utf8.Valid(m.Payload) {
			t.Fatalf("message of %d bytes, valid UTF-8 %v", len(m.Payload), utf8.Valid(m.Payload))
		}
		got = append(got, m.Payload...)
	}
	if want := 1 + 3000*len("é€"); len(got) != want {
		t.Fatalf("%d bytes, want %d", len(got), want)
	}
}

// TestPtyOutputDelay: the agent reads a pty's output only 1 s after it started the program.
func TestPtyOutputDelay(t *testing.T) {
	start := time.Now()
	c := startClient(t, Config{SessionType: InteractiveCommands, Properties: map[string]any{"commands": "echo early"}})
	c.readOutput("early")
	if d := time.Since(start); d < ptyOutputDelay {
		t.Fatalf("first output after %v, want ≥ %v", d, ptyOutputDelay)
	}
}

// TestStderrOvertakesStdout: with separated streams stdout and stderr are read independently, so stderr
// written after a large stdout can arrive before the end of stdout.
func TestStderrOvertakesStdout(t *testing.T) {
	c := startClient(t, Config{SessionType: NonInteractiveCommands, Pacing: true, Properties: map[string]any{
		"commands": `sh -c 'head -c 1000000 /dev/zero; echo late-err >&2'`, "separateOutputStream": true}})
	c.handshake("1.2.677.0")
	var stdout int
	errAt := -1
	for {
		m := c.next()
		if m.PayloadType == wire.PTExitCode {
			break
		}
		switch m.PayloadType {
		case wire.PTOutput:
			stdout += len(m.Payload)
		case wire.PTStdErr:
			errAt = stdout
		}
	}
	if stdout != 1000000 || errAt < 0 || errAt == stdout {
		t.Fatalf("stdout %d bytes, stderr after %d of them; want stderr before the end of stdout", stdout, errAt)
	}
}

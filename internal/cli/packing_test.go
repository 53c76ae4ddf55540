package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/plugincli"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// sinkServer reads every connection to the end; for each it reports on got once want bytes have arrived.
func sinkServer(t testing.TB, want int) (port int, got <-chan struct{}) {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ch := make(chan struct{}, 100)
	done := make(chan struct{})
	t.Cleanup(func() {
		l.Close()
		<-done
	})
	go func() {
		defer close(done)
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				buf := make([]byte, 64<<10)
				n := 0
				for {
					k, err := c.Read(buf)
					n += k
					if n >= want && n-k < want {
						ch <- struct{}{}
					}
					if err != nil {
						return
					}
				}
			}()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port, ch
}

// onlyReadFrom hides a reader's WriteTo, as a file or a socket would: io.Copy then goes through the
// destination's ReadFrom if it has one, else reads 32 KiB at a time.
type onlyReadFrom struct{ io.Reader }

// upload sends size pattern bytes into c, with 32 KiB writes or with io.Copy.
func upload(c net.Conn, size int, style string) error {
	src := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	switch style {
	case "32KiB writes", "1000B writes":
		chunk := 32 << 10
		if style == "1000B writes" {
			chunk = 1000
		}
		for b := src; len(b) > 0; {
			k := min(len(b), chunk)
			if _, err := c.Write(b[:k]); err != nil {
				return err
			}
			b = b[k:]
		}
		return nil
	case "io.Copy":
		_, err := io.Copy(c, onlyReadFrom{bytes.NewReader(src)})
		return err
	}
	return fmt.Errorf("unknown style %q", style)
}

// dataMessages returns the distinct data messages the agent received in session id (a message resent
// because a loaded machine delayed its acknowledgement counts once).
func dataMessages(t testing.TB, srv *ssmtest.Server, id string) uint64 {
	t.Helper()
	st := srv.Session(id).Agent
	return st.MessagesIn - st.DuplicatesIn
}

// A 4 MiB upload costs the same data messages whichever way the caller writes it: the library's
// connections (portforward, Tunnel.Dial, Client.Dial) with 32 KiB writes, 1000-byte writes or io.Copy, the
// ssmwire forward command and the session-manager-plugin. Message packing is a property of the path, for the default
// payload size and for a large opt-in one.
func TestMessagesPerByteDoNotDependOnTheWriter(t *testing.T) {
	const size = 4 << 20
	payloads := []int{ssmwire.DefaultMaxPayload, 60 << 10}
	for _, payload := range payloads {
		t.Run(strconv.Itoa(payload), func(t *testing.T) {
			h := newHarness(t, nil)
			port, got := sinkServer(t, size)
			api := ssm.NewFromConfig(h.srv.AWSConfig())
			client, err := ssmwire.New(&ssmwire.Config{SSM: api, Session: &ssmwire.ChannelConfig{MaxPayload: payload}})
			if err != nil {
				t.Fatal(err)
			}
			ctx := testkit.Context(t)
			remote := ssmwire.Remote{Port: port}
			waitGot := func() {
				t.Helper()
				select {
				case <-got:
				case <-time.After(30 * time.Second):
					t.Fatal("the destination never received every byte")
				}
			}
			counts := map[string]uint64{}
			for _, style := range []string{"32KiB writes", "1000B writes", "io.Copy"} {
				// Tunnel.Dial, and the Forwarder's own Dial below it.
				for _, layer := range []string{"Tunnel.Dial", "Forwarder.Dial"} {
					tun, err := client.Forward(ctx, ssmtest.DefaultInstanceID, remote)
					if err != nil {
						t.Fatal(err)
					}
					var c net.Conn
					if layer == "Tunnel.Dial" {
						c, err = tun.Dial(ctx)
					} else {
						c, err = tun.Forwarder().Dial(ctx)
					}
					if err != nil {
						t.Fatal(err)
					}
					if err := upload(c, size, style); err != nil {
						t.Fatal(err)
					}
					waitGot()
					counts[layer+", "+style] = dataMessages(t, h.srv, tun.SessionID())
					c.Close()
					tun.Close()
				}
				c, err := client.Dial(ctx, ssmtest.DefaultInstanceID, remote)
				if err != nil {
					t.Fatal(err)
				}
				if err := upload(c, size, style); err != nil {
					t.Fatal(err)
				}
				waitGot()
				counts["Client.Dial, "+style] = dataMessages(t, h.srv, c.LocalAddr().(*ssmwire.ForwardAddr).SessionID)
				c.Close()
			}
			// The programs run with the default payload size; their local side is a TCP connection.
			viaTCP := map[string]uint64{}
			if payload == ssmwire.DefaultMaxPayload {
				viaTCP["ssmwire forward"] = cliForwardMessages(t, h, port, size, got)
				viaTCP["session-manager-plugin"] = pluginMessages(t, h, port, size, got)
			}
			// Frames are at most DefaultMaxPayload-8 bytes (less in encrypted sessions) plus an 8-byte header;
			// a handshake reply or two come on top.
			frame := ssmwire.DefaultMaxPayload - 8
			bytesSent := size + (size+frame-1)/frame*8
			ideal := uint64((bytesSent + payload - 1) / payload)
			slack := uint64(0)
			if raceEnabled {
				slack = ideal / 25
			}
			// Writes smaller than a frame each become a frame with its own 8-byte smux header (0.8% more bytes
			// at 1000-byte writes); the bytes are packed as fully as any others.
			smallIdeal := uint64((size + (size+999)/1000*8 + payload - 1) / payload)
			for way, n := range counts {
				if !strings.Contains(way, "1000B") {
					continue
				}
				delete(counts, way)
				t.Logf("%-40s %d data messages (ideal %d + handshake)", way, n, smallIdeal)
				if n > smallIdeal+4+slack {
					t.Errorf("%s: %d data messages for %d bytes, want at most %d", way, n, size, smallIdeal+4+slack)
				}
			}
			lo, hi := ^uint64(0), uint64(0)
			for way, n := range counts {
				t.Logf("%-40s %d data messages (ideal %d + handshake)", way, n, ideal)
				lo, hi = min(lo, n), max(hi, n)
				if n > ideal+4+slack {
					t.Errorf("%s: %d data messages for %d bytes, want at most %d", way, n, size, ideal+4+slack)
				}
			}
			if hi-lo > 2+slack {
				t.Errorf("data messages range from %d to %d across the ways of writing; want within %d", lo, hi, 2+slack)
			}
			// Through a local TCP connection a message also ends early when the program's next read comes more
			// than a millisecond after the last (its goroutine or the sender was descheduled, as happens on a
			// loaded machine; under the whole test suite on two cores up to one message in seven did) — as it
			// would for any TCP relay. Allow for those; a caller-dependent packing would cost twice the messages.
			for way, n := range viaTCP {
				t.Logf("%-40s %d data messages (ideal %d + handshake)", way, n, ideal)
				if limit := hi + 2 + slack + ideal/5; n > limit {
					t.Errorf("%s: %d data messages for %d bytes, want at most %d (the library's ways: %d to %d)", way, n, size, limit, lo, hi)
				}
			}
		})
	}
}

// cliForwardMessages uploads size bytes with 32 KiB writes through `ssmwire forward` and returns the data
// messages of its session.
func cliForwardMessages(t *testing.T, h *harness, port, size int, got <-chan struct{}) uint64 {
	t.Helper()
	ev, _, stop := h.startJSON(t, "forward", ssmtest.DefaultInstanceID, fmt.Sprintf("0:localhost:%d", port))
	started := ev.next(t, evSessionStarted)
	up := ev.next(t, evTunnelUp)
	c, err := net.Dial("tcp", up.Listen)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := upload(c, size, "32KiB writes"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the destination never received every byte through ssmwire forward")
	}
	n := dataMessages(t, h.srv, started.SessionID)
	c.Close()
	stop()
	return n
}

// pluginMessages uploads size bytes with 32 KiB writes through the session-manager-plugin, as the AWS CLI
// runs it, and returns the data messages of its session.
func pluginMessages(t *testing.T, h *harness, port, size int, got <-chan struct{}) uint64 {
	t.Helper()
	for _, kv := range h.env {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
	api := ssm.NewFromConfig(h.srv.AWSConfig())
	ctx := testkit.Context(t)
	out, err := api.StartSession(ctx, &ssm.StartSessionInput{
		Target:       aws.String(ssmtest.DefaultInstanceID),
		DocumentName: aws.String(ssmwire.PortForwardingDocument),
		Parameters:   map[string][]string{"portNumber": {strconv.Itoa(port)}, "localPortNumber": {"0"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := json.Marshal(map[string]string{"SessionId": *out.SessionId, "TokenValue": *out.TokenValue, "StreamUrl": *out.StreamUrl})
	args := []string{string(resp), "us-east-1", "StartSession", "", `{"Target": "` + ssmtest.DefaultInstanceID + `"}`, h.srv.URL}
	pctx, cancel := context.WithCancel(ctx)
	stdout := &testkit.Buffer{}
	done := make(chan int, 1)
	env := plugincli.Env{
		Lookup: func(string) (string, bool) { return "", false },
		Unset:  func(string) error { return nil },
	}
	go func() { done <- plugincli.Main(pctx, args, strings.NewReader(""), stdout, io.Discard, env) }()
	defer func() {
		cancel()
		<-done
	}()
	stdout.WaitFor(t, "opened for sessionId")
	m := regexp.MustCompile(`Port (\d+) opened`).FindStringSubmatch(stdout.String())
	if m == nil {
		t.Fatalf("plugin printed %q", stdout.String())
	}
	c, err := net.Dial("tcp", "127.0.0.1:"+m[1])
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if err := upload(c, size, "32KiB writes"); err != nil {
		t.Fatal(err)
	}
	select {
	case <-got:
	case <-time.After(30 * time.Second):
		t.Fatal("the destination never received every byte through the plugin")
	}
	return dataMessages(t, h.srv, *out.SessionId)
}

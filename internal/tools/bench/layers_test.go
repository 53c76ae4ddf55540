package bench

import (
	"bytes"
	"context"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"io"
	"net"
	"testing"

	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/session"
)

// Echo round trips through each layer of the client, against the same emulator (basic mode: the data
// channel's Output stream is the TCP byte stream), to locate where a plugin's echo latency goes:
//
//	raw:         the ceiling relay (gorilla/websocket + protocol), as in ssmbench's ceiling row
//	session:     session.Channel's Write and Read
//	pf-dial:     portforward.Forwarder.Dial, in process (mux: one smux stream)
//	pf-tcp:      portforward's Listen and Serve, the echo going through a loopback TCP connection
//
// The plugin adds its process boundary on top of pf-tcp; ssmbench measures that.
func BenchmarkEchoLayers(b *testing.B) {
	b.Run("raw", func(b *testing.B) {
		benchEcho(b, func(ctx context.Context, s *started) io.ReadWriteCloser {
			r, err := dialRelay(ctx, s, 32<<10, "1.3.0.0")
			if err != nil {
				b.Fatal(err)
			}
			return r
		})
	})
	b.Run("session", func(b *testing.B) {
		benchEcho(b, func(ctx context.Context, s *started) io.ReadWriteCloser {
			sess, err := session.Open(ctx, session.Info{SessionID: s.ID, StreamURL: s.StreamURL, TokenValue: s.Token}, sessionConfig(s))
			if err != nil {
				b.Fatal(err)
			}
			if _, err := sess.Ready(ctx); err != nil {
				b.Fatal(err)
			}
			return sess
		})
	})
	for _, mode := range []Mode{ModeBasic, ModeMux} {
		b.Run("pf-dial-"+string(mode), func(b *testing.B) {
			benchEchoMode(b, mode, func(ctx context.Context, s *started) io.ReadWriteCloser {
				f := openForwarder(b, ctx, s)
				c, err := f.Dial(ctx)
				if err != nil {
					b.Fatal(err)
				}
				return c
			})
		})
		b.Run("pf-tcp-"+string(mode), func(b *testing.B) {
			benchEchoMode(b, mode, func(ctx context.Context, s *started) io.ReadWriteCloser {
				f := openForwarder(b, ctx, s)
				l, err := f.Listen(ctx)
				if err != nil {
					b.Fatal(err)
				}
				go f.Serve(ctx, l, nil)
				c, err := net.Dial("tcp", l.Addr().String())
				if err != nil {
					b.Fatal(err)
				}
				return c
			})
		})
	}
}

func openForwarder(b *testing.B, ctx context.Context, s *started) *portforward.Forwarder {
	sess, err := session.Open(ctx, session.Info{SessionID: s.ID, StreamURL: s.StreamURL, TokenValue: s.Token}, sessionConfig(s))
	if err != nil {
		b.Fatal(err)
	}
	if _, err := sess.Ready(ctx); err != nil {
		b.Fatal(err)
	}
	f, err := portforward.New(ctx, sess, nil)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { f.Close(); sess.Close() })
	return f
}

func benchEcho(b *testing.B, open func(context.Context, *started) io.ReadWriteCloser) {
	benchEchoMode(b, ModeBasic, open)
}

func benchEchoMode(b *testing.B, mode Mode, open func(context.Context, *started) io.ReadWriteCloser) {
	e, err := newEmulator(mode, false, 0, false)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(e.close)
	d, err := newDest(destEcho, 0)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(d.close)
	ctx := context.Background()
	s, err := e.startSession(ctx, d.port())
	if err != nil {
		b.Fatal(err)
	}
	c := open(ctx, s)
	b.Cleanup(func() { c.Close() })
	out := bytes.Repeat([]byte{'e'}, 64)
	in := make([]byte, len(out))
	round := func() {
		if _, err := c.Write(out); err != nil {
			b.Fatal(err)
		}
		if _, err := io.ReadFull(c, in); err != nil {
			b.Fatal(err)
		}
	}
	for range echoWarmup {
		round()
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		round()
	}
}

// sessionConfig signs the data channel as a client does and trusts the emulator the session runs on.
func sessionConfig(s *started) *session.Config {
	return &session.Config{
		Credentials:      credentials.NewStaticCredentialsProvider(accessKeyID, secretAccessKey, ""),
		Region:           region,
		TrustedEndpoints: []string{s.StreamURL}, // the emulator's host and port
	}
}

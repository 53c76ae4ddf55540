package session

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/url"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/protocol"
)

// Channel is one Session Manager data channel. Its methods are safe for concurrent use.
type Channel struct {
	cfg          Config
	id           string
	url          string    // under mu after Open: ResumeSession may replace a presigned one
	region       string    // the signature's credential scope
	unsignedOnce sync.Once // the upgrade goes out unsigned: said once

	done     chan struct{} // closed once when the session ends, for any reason
	doneOnce sync.Once
	errMu    sync.Mutex
	err      error // sticky: why the session ended; nil for a clean end
	closed   bool  // under errMu: Close was called
	wg       sync.WaitGroup

	ctx    context.Context // canceled when the session ends; bounds API calls made on its behalf
	cancel context.CancelFunc

	// Send state, under mu.
	mu          sync.Mutex
	token       string
	conn        *conn // current websocket; nil while reconnecting
	nextSeq     int64
	out         []*outMsg // sent or queued, not yet popped; contiguous seqs from out[0].seq
	inflight    int       // payload bytes not yet acknowledged
	sentUpTo    int64     // every seq below this went out on the current conn
	highAcked   int64     // highest seq acknowledged; -1 before the first
	paused      bool
	pausedAt    time.Time // when the current pause began
	bound       int       // current bound on inflight: Window, halved per pause, grown back (pacing.go)
	growAcc     int       // bytes acknowledged towards the bound's next step
	srtt        float64   // nanoseconds
	rttvar      float64
	rto         time.Duration
	pace        pacer // spreads first transmissions over long round trips (pace.go)
	pendingAcks []ackReq
	recentAcks  [512]ackReq // the last acknowledgements queued, replayed on a new websocket
	recentNext  int

	wake     chan struct{} // cap 1: something for the writer
	windowCh chan struct{} // cap 1: inflight bytes went down

	recvWaiting bool          // the reader waits for room in stdout with nothing unacknowledged (recv.go)
	sendWake    chan struct{} // cap 1: a message was queued while recvWaiting: the reader stops waiting

	// Receive state, owned by the current reader goroutine, which holds recvMu while it handles a frame.
	recvMu     sync.Mutex
	recvConn   *conn       // the conn whose reader holds recvMu
	stalled    bool        // Read made no room within stallTimeout: borrow until it catches up (recv.go)
	stallTimer *time.Timer // awaitRoom's, made at its first wait
	expected   int64
	ooo        map[int64][]byte
	oooBytes   int

	stdout *recvBuffer
	stderr *recvBuffer

	hs        handshakeState
	exitCode  atomic.Int64 // noExitCode until an ExitCode payload arrives (the agent reports -1 for a signal)
	closedOut atomic.Pointer[string]

	onFlag atomic.Pointer[func(protocol.PayloadFlag)]

	stats stats
}

type ackReq struct {
	seq     int64
	id      [16]byte
	msgType string
}

// Open dials the session's stream URL, sends the OpenDataChannel frame and starts the session's goroutines.
// It returns once the websocket is open; use [Channel.Ready] to wait for the handshake.
func Open(ctx context.Context, info Info, cfg *Config) (*Channel, error) {
	c, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if info.SessionID == "" || info.StreamURL == "" || info.TokenValue == "" {
		return nil, errors.New("session: open: SessionId, StreamUrl and TokenValue are all required")
	}
	// Nothing is sent anywhere before the stream URL is known to be a Session Manager endpoint, or one the
	// user named (docs/protocol.md §3.5).
	if err := CheckStreamURL(info.StreamURL, c.TrustedEndpoints...); err != nil {
		return nil, fmt.Errorf("session: open %s: %w", info.SessionID, err)
	}
	u, _ := url.Parse(info.StreamURL) // CheckStreamURL parsed it
	s := &Channel{
		cfg:       c,
		id:        info.SessionID,
		url:       info.StreamURL,
		region:    c.Region,
		token:     info.TokenValue,
		done:      make(chan struct{}),
		wake:      make(chan struct{}, 1),
		windowCh:  make(chan struct{}, 1),
		sendWake:  make(chan struct{}, 1),
		ooo:       make(map[int64][]byte),
		rto:       max(defaultRTO, c.MinRTO),
		srtt:      float64(defaultRTT),
		bound:     c.Window,
		highAcked: -1,
	}
	if s.region == "" {
		s.region = regionOf(u.Hostname())
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.stdout = newRecvBuffer(c.RecvBuffer)
	s.stderr = newRecvBuffer(c.RecvBuffer)
	s.exitCode.Store(noExitCode)
	s.hs.init()
	if c.OnFlag != nil {
		s.SetFlagHandler(c.OnFlag)
	}
	t, err := s.dial(ctx, s.url, info.TokenValue)
	if err != nil {
		s.cancel()
		return nil, fmt.Errorf("session: open %s: %w", s.id, err)
	}
	s.startConn(t)
	return s, nil
}

// dial opens a websocket to streamURL, signed unless presigned (docs/protocol.md §3.5), and sends the
// OpenDataChannel frame with a new request id (docs/protocol.md §3.2).
func (s *Channel) dial(ctx context.Context, streamURL, token string) (Transport, error) {
	h, unsigned := s.upgradeHeader(ctx, streamURL)
	t, err := s.cfg.Dial(ctx, streamURL, h)
	if err != nil {
		if ue := (*UpgradeError)(nil); unsigned != nil && errors.As(err, &ue) && ue.refused() {
			// The service refused the unsigned upgrade: say why it was not signed.
			return nil, fmt.Errorf("%w (the upgrade was not signed: %w)", err, unsigned)
		}
		return nil, err
	}
	open, err := json.Marshal(protocol.OpenDataChannelInput{
		MessageSchemaVersion: "1.0",
		RequestId:            newUUIDString(),
		TokenValue:           token,
		ClientId:             s.cfg.ClientID,
		ClientVersion:        s.cfg.ClientVersion,
	})
	if err == nil {
		err = t.WriteText(open)
	}
	if err != nil {
		t.Close()
		return nil, fmt.Errorf("send OpenDataChannel: %w", err)
	}
	return t, nil
}

// SetFlagHandler replaces the function called for each Flag payload the agent sends (see Config.OnFlag).
// It is called on the reader goroutine and must not block.
func (s *Channel) SetFlagHandler(f func(protocol.PayloadFlag)) { s.onFlag.Store(&f) }

// ID returns the session id.
func (s *Channel) ID() string { return s.id }

// Done is closed when the session has ended.
func (s *Channel) Done() <-chan struct{} { return s.done }

// Err returns why the session ended: nil while it runs and after a clean end (channel_closed without a
// message), a *ChannelClosedError when the service closed it with a message, ErrClosed after Close, or the
// failure.
func (s *Channel) Err() error {
	s.errMu.Lock()
	defer s.errMu.Unlock()
	return s.err
}

// ChannelClosedOutput returns the Output of the channel_closed message that ended the session, if any.
func (s *Channel) ChannelClosedOutput() (string, bool) {
	p := s.closedOut.Load()
	if p == nil {
		return "", false
	}
	return *p, true
}

// ExitCode returns the remote command's exit code, which the agent reports only for NonInteractiveCommands
// sessions with separated output streams (docs/protocol.md §6.1). A command killed by a signal is reported as -1.
func (s *Channel) ExitCode() (int, bool) {
	c := s.exitCode.Load()
	return int(c), c != noExitCode
}

// noExitCode marks Channel.exitCode as unset: no exit code the agent can send.
const noExitCode = math.MinInt64

// Read reads output (PayloadType Output) in order. After the session ends it returns what is buffered, then
// io.EOF for a clean end or the session's error.
func (s *Channel) Read(p []byte) (int, error) { return s.stdout.read(context.Background(), p) }

// ReadContext is Read with a context.
func (s *Channel) ReadContext(ctx context.Context, p []byte) (int, error) {
	return s.stdout.read(ctx, p)
}

// Stderr returns a reader of the StdErr stream (PayloadType 11), which only NonInteractiveCommands sessions
// with separated output streams use.
func (s *Channel) Stderr() io.Reader {
	return readerFunc(func(p []byte) (int, error) { return s.stderr.read(context.Background(), p) })
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Close ends the session locally: the websocket is closed and every goroutine has returned when Close
// returns. It does not call TerminateSession; see [Channel.Terminate]. Close is idempotent.
func (s *Channel) Close() error {
	s.errMu.Lock()
	s.closed = true
	s.errMu.Unlock()
	s.finish(ErrClosed)
	s.wg.Wait()
	return nil
}

// Terminate asks the service to end the session (SSM TerminateSession), waits briefly for the channel to
// close, and closes the session.
func (s *Channel) Terminate(ctx context.Context) error {
	var err error
	if s.cfg.SSM != nil {
		_, err = s.cfg.SSM.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: &s.id})
		if err != nil {
			err = fmt.Errorf("session: terminate %s: %w", s.id, err)
		} else {
			t := time.NewTimer(2 * time.Second)
			select {
			case <-s.done:
			case <-ctx.Done():
			case <-t.C:
			}
			t.Stop()
		}
	}
	s.Close()
	return err
}

// finish ends the session once, recording why.
func (s *Channel) finish(err error) {
	s.doneOnce.Do(func() {
		s.errMu.Lock()
		s.err = err
		s.errMu.Unlock()
		close(s.done)
		s.cancel()
		s.mu.Lock()
		c := s.conn
		s.conn = nil
		s.mu.Unlock()
		if c != nil {
			c.close(ErrClosed)
		}
		readErr := err
		if readErr == nil {
			readErr = io.EOF
		} else if cc := (*ChannelClosedError)(nil); errors.As(err, &cc) {
			readErr = io.EOF
		}
		s.stdout.close(readErr)
		s.stderr.close(readErr)
		s.hs.fail(err)
		s.cfg.Logger.Debug("session ended", "session", s.id, "err", err)
	})
}

// fail ends the session with an error unless it already ended.
func (s *Channel) fail(err error) { s.finish(err) }

func (s *Channel) isDone() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// endErr is what a blocked call returns once the session has ended.
func (s *Channel) endErr(op string) error {
	err := s.Err()
	if err == nil {
		err = io.EOF
	}
	return fmt.Errorf("session: %s: %w", op, err)
}

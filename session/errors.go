package session

import (
	"errors"
	"fmt"
)

// Sentinel errors. Errors returned by a Channel wrap these with %w and the operation's name.
var (
	// ErrClosed is returned by calls on a session that was closed locally.
	ErrClosed = errors.New("session: closed")
	// ErrHandshake marks a failed handshake (bad request JSON, KMS failure, challenge mismatch).
	ErrHandshake = errors.New("session: handshake failed")
	// ErrTimedOut is returned when ResumeSession answers without a token: the service has timed the session out.
	ErrTimedOut = errors.New("session: timed out")
	// ErrConnectionLost is returned when the websocket dropped and could not be resumed.
	ErrConnectionLost = errors.New("session: connection lost")
	// ErrAckTimeout is returned when the agent acknowledged nothing for Config.AckTimeout.
	ErrAckTimeout = errors.New("session: the agent stopped acknowledging")
	// ErrDecrypt is returned when an encrypted payload does not open with the session key.
	ErrDecrypt = errors.New("session: payload decryption failed")
)

// ChannelClosedError reports that the service closed the data channel with a message, as it does when the
// session ended on the agent's side with an error (for example a document whose command failed to start).
// A channel_closed without a message ends the session cleanly and is not an error.
type ChannelClosedError struct {
	SessionID string
	Output    string
}

func (e *ChannelClosedError) Error() string {
	return fmt.Sprintf("session %s closed: %s", e.SessionID, e.Output)
}

// timeoutError satisfies net.Error for deadline-style failures.
type timeoutError struct{ op string }

func (e *timeoutError) Error() string   { return "session: " + e.op + ": timeout" }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return true }

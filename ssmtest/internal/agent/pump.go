package agent

import (
	"io"
	"time"
	"unicode/utf8"
)

const (
	pacedChunk   = 1024      // StreamDataPayloadSize
	unpacedChunk = 32 * 1024 // fast mode: the emulator must not hide the client's speed
	pacingSleep  = time.Millisecond
)

// pump reads r and sends each chunk as one message of payloadType until r fails: the port plugins' pump.
// While publication is paused it stops reading (polling every millisecond, as the agent's IsActive loop).
// With pacing on it reads at most 1024 bytes per message and sleeps 1 ms after each send, like the real
// agent.
func (a *Agent) pump(r io.Reader, payloadType uint32) error {
	buf := make([]byte, a.chunkSize())
	for {
		for a.ch.paused.Load() {
			if err := a.sleep(pacingSleep); err != nil {
				return err
			}
		}
		n, err := r.Read(buf)
		if n > 0 {
			if serr := a.sendStream(payloadType, buf[:n]); serr != nil {
				return serr
			}
			if a.cfg.Pacing {
				if serr := a.sleep(pacingSleep); serr != nil {
					return serr
				}
			}
		}
		if err != nil {
			return err
		}
	}
}

func (a *Agent) chunkSize() int {
	if a.cfg.Pacing {
		return pacedChunk
	}
	return unpacedChunk
}

// pumpText is the shell plugin's output pump (writePump, processStdoutData): it waits initialWait before
// the first read (1 s for a pseudo-terminal: "wait for all input commands to run"), reads up to 1024 bytes
// at a time (32 KiB without pacing) and sends them as one payloadType message together with the bytes held
// back from the previous read, holding back in turn an incomplete UTF-8 character at the end (so a message
// carries up to 1027 bytes). Bytes still held back at EOF are never sent. With pacing it sleeps 1 ms per
// read, as the agent's writePump does.
//
// While publication is paused the pump waits, except with stopOnPause (the separated stdout/stderr pumps of
// NonInteractiveCommands): the agent's pipeline reader then gives up for good ("Data Channel not in active
// status"), leaving the command's pipe unread.
func (a *Agent) pumpText(r io.Reader, payloadType uint32, initialWait time.Duration, stopOnPause bool) error {
	if err := a.sleep(initialWait); err != nil {
		return err
	}
	buf := make([]byte, a.chunkSize())
	var held []byte
	for {
		if stopOnPause && a.ch.paused.Load() {
			return errInactive
		}
		for a.ch.paused.Load() {
			if err := a.sleep(pacingSleep); err != nil {
				return err
			}
		}
		n, err := r.Read(buf)
		if err != nil {
			return err
		}
		var send []byte
		send, held = utf8Split(append(held, buf[:n]...))
		if len(send) > 0 { // the agent ignores empty payloads
			if serr := a.sendStream(payloadType, send); serr != nil {
				return serr
			}
		}
		if a.cfg.Pacing {
			if err := a.sleep(pacingSleep); err != nil {
				return err
			}
		}
	}
}

// utf8Split splits b as the agent's processStdoutData does: whole characters are sent; an undecodable byte
// is sent as it is, unless it lies within the last 3 bytes, where it and everything after it are held back
// for the next read. Faithful to the agent even where that is odd: a correctly encoded U+FFFD decodes like an
// error, so only its first byte is sent (or, near the end, it is held back).
func utf8Split(b []byte) (send, held []byte) {
	out := make([]byte, 0, len(b))
	i := 0
	for i < len(b) {
		r, size := utf8.DecodeRune(b[i:])
		if r == utf8.RuneError {
			if len(b)-i < utf8.UTFMax {
				break
			}
			out = append(out, b[i])
		} else {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	return out, append([]byte(nil), b[i:]...)
}

// sleep waits d or until the session ends.
func (a *Agent) sleep(d time.Duration) error {
	if d <= 0 {
		return a.ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-a.ctx.Done():
		return a.ctx.Err()
	}
}

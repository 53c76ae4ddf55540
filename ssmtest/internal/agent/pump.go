package agent

import (
	"io"
	"time"
)

const (
	pacedChunk   = 1024      // StreamDataPayloadSize
	unpacedChunk = 32 * 1024 // fast mode: the emulator must not hide the client's speed
	pacingSleep  = time.Millisecond
)

// pump reads r and sends each chunk as one message of payloadType until r fails. While publication is
// paused it stops reading (polling every millisecond, as the agent's IsActive loop). With pacing on it reads
// at most 1024 bytes per message and sleeps 1 ms after each send, like the real agent.
func (a *Agent) pump(r io.Reader, payloadType uint32) error {
	size := unpacedChunk
	if a.cfg.Pacing {
		size = pacedChunk
	}
	buf := make([]byte, size)
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

// sleep waits d or until the session ends.
func (a *Agent) sleep(d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-a.ctx.Done():
		return a.ctx.Err()
	}
}

package portforward

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// This file holds everything portforward knows about smux's internals, beyond its API: the v1 frame layout,
// which it reads (muxTransport.Read, in muxrecv.go) and writes (writeData) for the streams' data, and the
// stream ids smux's client hands out (streamIDs). They were written against one smux version, and mux mode
// refuses to start when the program was built with another (checkSmux): a silently different numbering
// would send one stream's ConnectToPortError to another.

// smuxModule and smuxVersion name the smux release this file was written for. TestSmuxVersionMatchesGoMod
// keeps smuxVersion equal to go.mod's requirement.
const (
	smuxModule  = "github.com/xtaci/smux"
	smuxVersion = "v1.5.16"
)

// ErrSmuxVersion is returned by New for a mux-mode session when the program was built with another smux
// version than the one portforward's frame watching and stream-id prediction were written for.
var ErrSmuxVersion = errors.New("portforward: unsupported smux version")

// smux v1 commands (docs/protocol.md §6.4).
const (
	smuxVersion1 = 1

	smuxSYN = 0
	smuxFIN = 1
	smuxPSH = 2
	smuxNOP = 3
	smuxUPD = 4 // version 2 only

	smuxUPDSize = 8 // an UPD frame's window update, after its header

	smuxHeaderSize = 8
)

// checkSmux reports whether the smux the program was built with is smuxVersion. A build without module
// information (not built in module mode) cannot be checked and is let through.
var checkSmux = sync.OnceValue(func() error {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return nil
	}
	return checkSmuxDeps(bi.Deps)
})

// checkSmuxDeps checks the smux module among deps: its version, or its replacement's.
func checkSmuxDeps(deps []*debug.Module) error {
	for _, d := range deps {
		if d.Path != smuxModule {
			continue
		}
		v := d.Version
		if d.Replace != nil {
			v = d.Replace.Version
			if v == "" {
				v = "a local replacement (" + d.Replace.Path + ")"
			}
		}
		if v != smuxVersion {
			return fmt.Errorf("%w: built with %s %s, but mux mode's frame watching and stream ids were written for %s; require %s %s in go.mod",
				ErrSmuxVersion, smuxModule, v, smuxVersion, smuxModule, smuxVersion)
		}
		return nil
	}
	return nil
}

// streamIDs predicts the id of the next stream smux's client opens. smux v1.5.16's client counter starts at
// 1 and is incremented by 2 before use (session.go OpenStream), so streams are numbered 3, 5, 7, …; the
// Forwarder registers a stream's state under the predicted id before opening it, so that no frame for the
// new stream can go by unseen. Not safe for concurrent use: the Forwarder serializes opens.
type streamIDs struct{ next uint32 }

func newStreamIDs() streamIDs { return streamIDs{next: 3} }

// predict returns the id the next OpenStream will use.
func (p *streamIDs) predict() uint32 { return p.next }

// opened records the id smux actually gave a stream.
func (p *streamIDs) opened(id uint32) { p.next = id + 2 }

// writeData sends b on stream sid as smux's Stream.Write does in protocol version 1: PSH frames of at most
// frameSize bytes (and of the transport buffer's room), each written whole. smux's own Write hands every
// frame to two goroutines of its session (a priority queue, then the sender) and waits for the sender's
// answer on a channel made for that frame: about five allocations and three goroutine switches per frame,
// for bytes that reach the same transport in the same order. The agent sees the same frames. ctx (the
// Write's deadline, the conn's Close) ends a wait for room before a frame; a frame is written whole or not
// at all. It returns the data bytes written.
func (t *muxTransport) writeData(ctx context.Context, sid uint32, b []byte, frameSize int) (int, error) {
	frameSize = min(frameSize, t.packer.frameRoom()-smuxHeaderSize)
	t.begin() // the rest of b is coming: the pump holds a partial message for it
	defer t.end()
	var hdr [smuxHeaderSize]byte
	hdr[0], hdr[1] = smuxVersion1, smuxPSH
	binary.LittleEndian.PutUint32(hdr[4:], sid)
	sent := 0
	for len(b) > 0 {
		sz := min(len(b), frameSize)
		binary.LittleEndian.PutUint16(hdr[2:], uint16(sz))
		n, err := t.packer.writeFrame(ctx, hdr[:], b[:sz])
		sent += n
		if err != nil {
			return sent, err
		}
		b = b[sz:]
	}
	return sent, nil
}

// Write and WriteBuffers are smux's sender's, which writes one frame per call: since portforward writes the
// streams' data itself, only SYN, FIN and NOP frames, a header without data.
func (t *muxTransport) Write(b []byte) (int, error) { return t.packer.writeFrame(nil, nil, b) }

// WriteBuffers gets a header and its data (smux's sendLoop).
func (t *muxTransport) WriteBuffers(v [][]byte) (int, error) {
	if len(v) != 2 {
		return 0, fmt.Errorf("portforward: smux wrote %d buffers at once, not a header and its data", len(v))
	}
	n, err := t.packer.writeFrame(nil, v[0], v[1])
	if err == nil {
		n += len(v[0])
	}
	return n, err
}

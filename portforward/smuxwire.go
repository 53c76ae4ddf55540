package portforward

import (
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/debug"
	"sync"
)

// This file holds everything portforward knows about smux's internals, beyond its API: the v1 frame layout
// it watches go by (frameWatcher) and the stream ids smux's client hands out (streamIDs). Both were written
// against one smux version, and mux mode refuses to start when the program was built with another
// (checkSmux): a silently different numbering would send one stream's ConnectToPortError to another.

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
	smuxSYN = 0
	smuxFIN = 1
	smuxPSH = 2

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

// frameWatcher follows the smux v1 frame boundaries in the bytes the agent sends, so that the Forwarder
// knows which streams received data and which were closed by the agent. It sees the bytes in whatever
// pieces the transport delivers them.
type frameWatcher struct {
	hdr     [smuxHeaderSize]byte
	hn      int // header bytes collected
	skip    int // data bytes of the current frame still to pass
	onFrame func(cmd byte, sid uint32, length int)
}

func (w *frameWatcher) observe(b []byte) {
	for len(b) > 0 {
		if w.skip > 0 {
			k := min(w.skip, len(b))
			w.skip -= k
			b = b[k:]
			continue
		}
		k := copy(w.hdr[w.hn:], b)
		w.hn += k
		b = b[k:]
		if w.hn < smuxHeaderSize {
			return
		}
		w.hn = 0
		cmd := w.hdr[1]
		length := int(binary.LittleEndian.Uint16(w.hdr[2:]))
		sid := binary.LittleEndian.Uint32(w.hdr[4:])
		if cmd == smuxPSH {
			w.skip = length // in v1 only PSH carries data
		}
		w.onFrame(cmd, sid, length)
	}
}

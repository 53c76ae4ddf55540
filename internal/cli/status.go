package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/ssmwire/ssmwire/shell"
)

// Events of the tunnel commands, the "event" field of --json output.
const (
	evTunnelUp       = "tunnel_up"
	evSessionStarted = "session_started"
	evConnection     = "connection"
	evSessionEnded   = "session_ended"
	evError          = "error"
)

// event is one line of --json output. Tunnel, Forward, Listen, Target and Remote are filled in from the
// keeper that emits it.
type event struct {
	Time       time.Time `json:"time"`
	Event      string    `json:"event"`
	Tunnel     string    `json:"tunnel,omitempty"`
	Forward    string    `json:"forward,omitempty"`
	Listen     string    `json:"listen,omitempty"`
	Target     string    `json:"target,omitempty"`
	Remote     string    `json:"remote,omitempty"`
	SessionID  string    `json:"session_id,omitempty"`
	State      string    `json:"state,omitempty"` // connection: "open", "closed" or (proxy) "failed"
	Conn       int64     `json:"conn,omitempty"`  // connection: its number, from 1
	BytesUp    int64     `json:"bytes_up,omitempty"`
	BytesDown  int64     `json:"bytes_down,omitempty"`
	DurationMS int64     `json:"duration_ms,omitempty"`
	Reason     string    `json:"reason,omitempty"`    // session_ended
	Listeners  []string  `json:"listeners,omitempty"` // ready: every local address, in the order of the tunnels
	Protocol   string    `json:"protocol,omitempty"`  // proxy connections: "socks5" or "http"
	Reply      string    `json:"reply,omitempty"`     // proxy failures: the reply sent, e.g. "SOCKS5 reply 5"
	Error      string    `json:"error,omitempty"`
}

// reportMode is how tunnel commands report.
type reportMode int

const (
	reportPlain    reportMode = iota // a line per event that matters (not per connection)
	reportTerminal                   // a status line per forward, redrawn in place; events above it
	reportJSON                       // every event as a JSON object on its own line
	reportQuiet                      // errors only
)

// reporter writes the events and status lines of the tunnel commands. Errors always go to errw (standard
// error); everything else to out (standard output).
type reporter struct {
	mode      reportMode
	out, errw io.Writer
	now       func() time.Time
	width     func() int // the terminal's columns at this moment, 0 when unknown (statuswidth.go)

	mu      sync.Mutex
	keepers []*keeper
	lines   []func() string // further status lines (proxies), after the keepers'
	drawn   int             // status lines currently on the terminal
	widths  []int           // their lengths in columns, for the rows they take after a resize
}

func newReporter(a *app) *reporter {
	r := &reporter{out: a.stdout, errw: a.stderr, now: time.Now, width: terminalWidth(a.stdout)}
	switch {
	case a.g.json:
		r.mode = reportJSON
	case a.g.quiet:
		r.mode = reportQuiet
	case shell.IsTerminal(a.stdout):
		r.mode = reportTerminal
	}
	return r
}

// add registers a keeper for the status lines.
func (r *reporter) add(k *keeper) {
	r.mu.Lock()
	r.keepers = append(r.keepers, k)
	r.mu.Unlock()
}

// emit reports e for keeper k (nil for events of the whole command).
func (r *reporter) emit(e event, k *keeper) {
	e.Time = r.now().UTC()
	if k != nil {
		e.Tunnel, e.Forward, e.Target = k.tunnel, k.fw.Spec, k.target
		e.Remote = k.fw.RemoteAddress()
		if k.l != nil {
			e.Listen = k.l.Addr().String()
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	switch r.mode {
	case reportJSON:
		b, _ := json.Marshal(e)
		r.out.Write(append(b, '\n'))
		if e.Event == evError {
			fmt.Fprintf(r.errw, "ssmwire: %s: %s\n", e.Forward, e.Error)
		}
	case reportQuiet:
		if e.Event == evError {
			fmt.Fprintf(r.errw, "ssmwire: %s\n", r.text(e))
		} else if e.Event == evReady { // asked for with up --wait
			fmt.Fprintln(r.out, r.text(e))
		}
	case reportPlain:
		if e.Event == evError {
			fmt.Fprintf(r.errw, "ssmwire: %s\n", r.text(e))
		} else if e.Event != evConnection {
			fmt.Fprintln(r.out, r.text(e))
		}
	case reportTerminal:
		r.clearLocked()
		if e.Event == evError {
			fmt.Fprintf(r.errw, "ssmwire: %s\n", r.text(e))
		} else if e.Event != evConnection {
			fmt.Fprintln(r.out, r.text(e))
		}
		r.drawLocked()
	}
}

// text is the one-line form of an event.
func (r *reporter) text(e event) string {
	who := e.Forward
	if e.Tunnel != "" {
		who = e.Tunnel + " " + e.Forward
	}
	switch e.Event {
	case evTunnelUp:
		return fmt.Sprintf("%s: listening on %s, forwarding to %s via %s", who, e.Listen, e.Remote, e.Target)
	case evSessionStarted:
		return fmt.Sprintf("%s: session %s started", who, e.SessionID)
	case evSessionEnded:
		return fmt.Sprintf("%s: session %s ended (%s); the next connection starts a new one", who, e.SessionID, e.Reason)
	case evConnection:
		return fmt.Sprintf("%s: connection %d %s", who, e.Conn, e.State)
	case evReady:
		return "ready: listening on " + strings.Join(e.Listeners, ", ")
	default:
		if who == "" {
			return e.Error
		}
		return who + ": " + e.Error
	}
}

// run redraws the status lines every interval until ctx is done, on a terminal only.
func (r *reporter) run(ctx context.Context, interval time.Duration) {
	if r.mode != reportTerminal {
		return
	}
	t := time.NewTicker(interval)
	defer t.Stop()
	resized := make(chan os.Signal, 1)
	defer resizeSignal(resized)()
	for {
		select {
		case <-ctx.Done():
			r.mu.Lock()
			r.clearLocked()
			r.mu.Unlock()
			return
		case <-resized:
			r.mu.Lock()
			r.clearLocked()
			r.drawLocked()
			r.mu.Unlock()
		case <-t.C:
			r.mu.Lock()
			r.clearLocked()
			r.drawLocked()
			r.mu.Unlock()
		}
	}
}

// clearLocked moves the cursor up over the status lines and erases them.
func (r *reporter) clearLocked() {
	if r.drawn == 0 {
		return
	}
	fmt.Fprintf(r.out, "\x1b[%dA\x1b[J", rowsAfterResize(r.widths, r.drawn, r.width))
	r.drawn, r.widths = 0, r.widths[:0]
}

// addLine registers a further status line, drawn by line.
func (r *reporter) addLine(line func() string) {
	r.mu.Lock()
	r.lines = append(r.lines, line)
	r.mu.Unlock()
}

// drawLocked writes one status line per forward, then the further lines.
func (r *reporter) drawLocked() {
	var b strings.Builder
	cols := 0
	if r.width != nil {
		cols = r.width()
	}
	put := func(line string) {
		line = fitWidth(line, cols)
		r.widths = append(r.widths, utf8.RuneCountInString(line))
		b.WriteString(line)
		b.WriteByte('\n')
	}
	for _, k := range r.keepers {
		put(statusLine(k))
	}
	for _, line := range r.lines {
		put(line())
	}
	io.WriteString(r.out, b.String())
	r.drawn = len(r.keepers) + len(r.lines)
}

// statusLine is a forward's current state: where it listens, its session, connections and bytes each way.
func statusLine(k *keeper) string {
	sid, _ := k.sessionID.Load().(string)
	if sid == "" {
		sid = "none (next connection starts one)"
	}
	listen := k.fw.ListenAddress()
	if k.l != nil {
		listen = k.l.Addr().String()
	}
	name := k.fw.Spec
	if k.tunnel != "" {
		name = k.tunnel
	}
	sess := "session " + sid
	if k.pool != nil && k.pooled() {
		sess = poolStatus(k.pool)
	}
	return fmt.Sprintf("%-16s %s → %s  %s  conns %d (%d open)  ↑%s ↓%s",
		name, listen, k.fw.RemoteAddress(), sess, k.conns.Load(), k.open.Load(),
		byteCount(k.bytesUp.Load()), byteCount(k.bytesDn.Load()))
}

// byteCount formats n bytes for humans (1000-based, like ls -h --si).
func byteCount(n int64) string {
	const unit = 1000
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %cB", float64(n)/float64(div), "kMGTPE"[exp])
}

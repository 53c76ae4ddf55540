package filecopy

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"sync"
)

// File copies ([To], [From]) use only what a stock Linux instance has: AWS's command
// documents and coreutils (sh, stty, head, tail, base64, sha256sum, mv). The agent forces two choices
// (docs/protocol.md §6.1):
//
//   - Downloads read a command's standard output (AWS-StartNonInteractiveCommand: no pseudo-terminal). The
//     agent forwards output through a UTF-8 filter that drops bytes of some sequences and holds back a
//     trailing partial character, so the remote side sends base64 text, and a marker line with the SHA-256
//     of what it sent. Large files are read as byte ranges over several sessions at once (the agent paces
//     each session's output), each range checked, and the assembled file checked against the SHA-256 of the
//     whole remote file.
//   - Uploads need standard input, which NonInteractiveCommands sessions do not give the command. They use
//     a pseudo-terminal (AWS-StartInteractiveCommand): the remote shell first turns the terminal raw with
//     echo off ("stty raw -echo"), says so, and then reads exactly the announced number of bytes with
//     "head -c" (the protocol has no end of input); the bytes are sent only after that line arrived.
//
// Either way the file is written under a temporary name next to the destination and renamed over it only
// after the SHA-256 computed on both ends matched; on any failure the temporary file is removed (remotely by
// the script's trap, or, when the session itself was lost, by a cleanup command). A session lost for good
// (ResumeSession refused or failing) is replaced by a new one that goes on from where it stopped: the rest of
// a download's range, or the rest of an upload after what the remote temporary file holds.

// Default documents of file copies.
const (
	// DefaultFromDocument runs the download commands: NonInteractiveCommands, no pseudo-terminal.
	DefaultFromDocument = "AWS-StartNonInteractiveCommand"
	// DefaultToDocument runs the upload command on a pseudo-terminal (InteractiveCommands).
	DefaultToDocument = "AWS-StartInteractiveCommand"
)

// Defaults of [Config].
const (
	// DefaultRetries is how many times a copy goes on over a new session, from where it stopped, after
	// its session was lost (and could not be resumed).
	DefaultRetries = 2
	// DefaultMinRange is the smallest range a download with several sessions reads per session: below it
	// the start of one more session costs more than it saves.
	DefaultMinRange = 1 << 20
	// MaxSessions bounds Config.Sessions.
	MaxSessions = 32
)

// Config configures [To] and [From]. A nil *Config means the defaults. It is
// copied by the call and never changed.
type Config struct {
	// Sessions is how many sessions a download reads ranges of the file over in parallel (1 to
	// MaxSessions; 0 means 1). The agent paces each session's output, so N sessions read up to N times
	// as fast. Uploads always use one session.
	Sessions int
	// MinRange is the smallest range per session; default DefaultMinRange.
	MinRange int64
	// Retries is how many times a copy whose session was lost goes on over a new session from where it
	// stopped (a download's range from its last byte, an upload from what the remote temporary file holds);
	// default DefaultRetries, negative for none.
	Retries int
	// FromDocument is the NonInteractiveCommands document for downloads (its "command" parameter gets the
	// command); default DefaultFromDocument. A document with separate output streams works as well.
	FromDocument string
	// ToDocument is the InteractiveCommands document for uploads; default DefaultToDocument.
	ToDocument string
	// Progress, when non-nil, is called with the bytes copied so far and the file's size, from the copy's
	// goroutines (one call at a time), after each chunk and once at the end.
	Progress func(done, total int64)
}

func (c *Config) withDefaults() (Config, error) {
	var o Config
	if c != nil {
		o = *c
	}
	if o.Sessions == 0 {
		o.Sessions = 1
	}
	if o.Sessions < 1 || o.Sessions > MaxSessions {
		return o, fmt.Errorf("filecopy: copy: Sessions must be 1 to %d, not %d", MaxSessions, o.Sessions)
	}
	if o.MinRange == 0 {
		o.MinRange = DefaultMinRange
	}
	if o.MinRange < 0 {
		return o, fmt.Errorf("filecopy: copy: negative MinRange %d", o.MinRange)
	}
	if o.Retries == 0 {
		o.Retries = DefaultRetries
	}
	if o.Retries < 0 {
		o.Retries = 0
	}
	if o.FromDocument == "" {
		o.FromDocument = DefaultFromDocument
	}
	if o.ToDocument == "" {
		o.ToDocument = DefaultToDocument
	}
	return o, nil
}

// Errors of file copies, wrapped by [*Error] (with fs.ErrNotExist and fs.ErrPermission for a missing or
// inaccessible remote path).
var (
	// ErrChecksum: the SHA-256 of what arrived differs from the sender's.
	ErrChecksum = errors.New("filecopy: copy: SHA-256 mismatch")
	// ErrRemoteWrite: the remote side could not write the file (a full disk, an I/O error).
	ErrRemoteWrite = errors.New("filecopy: copy: remote write failed")
	// ErrRemoteFailed: a remote command the copy needs failed, or said something unexpected.
	ErrRemoteFailed = errors.New("filecopy: copy: remote command failed")
	// ErrIncomplete: the session ended before the copy was complete.
	ErrIncomplete = errors.New("filecopy: copy: session ended before the copy was complete")
)

// Error is a failed file copy: Op is "copy to" or "copy from", Path the remote path, Err one of the
// errors above, fs.ErrNotExist, fs.ErrPermission, or the session's or local file's error; Detail is what the
// remote side said, if anything.
type Error struct {
	Op     string
	Target string
	Path   string
	Detail string
	Err    error
}

// Error returns "filecopy: OP TARGET:PATH: " followed by the error and what the remote side said.
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "filecopy: %s %s:%s: ", e.Op, e.Target, e.Path)
	switch {
	case e.Detail != "" && e.Err != nil:
		fmt.Fprintf(&b, "%v: %s", e.Err, e.Detail)
	case e.Detail != "":
		b.WriteString(e.Detail)
	default:
		fmt.Fprint(&b, e.Err)
	}
	return b.String()
}

// Unwrap returns Err.
func (e *Error) Unwrap() error { return e.Err }

// remoteKinds maps the kinds of the remote scripts' ERR lines to errors.
var remoteKinds = map[string]error{
	"notfound": fs.ErrNotExist,
	"perm":     fs.ErrPermission,
	"isdir":    errors.New("is a directory"),
	"notdir":   errors.New("not a directory"),
	"notreg":   errors.New("not a regular file"),
	"write":    ErrRemoteWrite,
	"sum":      ErrChecksum,
	"tool":     ErrRemoteFailed,
}

// newToken returns a random marker for one copy: the remote script's lines start with it, and it names the
// temporary file.
func newToken() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// markerLines is an io.Writer that splits a remote command's output into lines and hands each one (without
// its line end, \r removed) to line. The first error line returns is kept, reported by err, and stops
// everything after it; onErr is called once with it.
type markerLines struct {
	line  func(b []byte) error
	onErr func(error)

	mu      sync.Mutex
	pending []byte
	failed  error
}

func (m *markerLines) Write(p []byte) (int, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.failed != nil {
		return len(p), nil // keep the relay reading; the failure is already known
	}
	m.pending = append(m.pending, p...)
	for {
		i := bytes.IndexByte(m.pending, '\n')
		if i < 0 {
			break
		}
		l := bytes.TrimRight(m.pending[:i], "\r")
		if err := m.line(l); err != nil {
			m.failed = err
			m.pending = nil
			if m.onErr != nil {
				m.onErr(err)
			}
			return len(p), nil
		}
		m.pending = m.pending[i+1:]
	}
	if len(m.pending) > 1<<20 {
		m.failed = fmt.Errorf("%w: a line longer than 1 MiB", ErrRemoteFailed)
		if m.onErr != nil {
			m.onErr(m.failed)
		}
	}
	return len(p), nil
}

// finish returns the first error. A line left without its newline is dropped: every line the scripts
// print ends with one, so it is output cut short by a lost session.
func (m *markerLines) finish() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending = nil
	return m.failed
}

// parseMarker splits a line of the form "TOKEN WORD REST" and reports whether it is one of this copy's.
// It allocates nothing for other lines (a download's base64 lines).
func parseMarker(line []byte, token string) (word, rest string, ok bool) {
	if len(line) <= len(token) || line[len(token)] != ' ' || string(line[:len(token)]) != token {
		return "", "", false
	}
	word, rest, _ = strings.Cut(string(line[len(token)+1:]), " ")
	return word, rest, true
}

// remoteError is the error of a remote ERR line: "KIND MESSAGE".
func remoteError(op, target, path, rest string) error {
	kind, msg, _ := strings.Cut(rest, " ")
	err, ok := remoteKinds[kind]
	if !ok {
		err = ErrRemoteFailed
	}
	return &Error{Op: op, Target: target, Path: path, Detail: strings.TrimSpace(msg), Err: err}
}

// progress serialises calls of Config.Progress from several goroutines.
type progress struct {
	mu    sync.Mutex
	fn    func(done, total int64)
	done  int64
	total int64
}

func (p *progress) add(n int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fn == nil {
		return
	}
	p.done += n
	p.fn(p.done, p.total)
}

// set reports done bytes: where an upload goes on after a lost session, or the end.
func (p *progress) set(done int64) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.fn == nil || done == p.done && done != 0 {
		return
	}
	p.done = done
	p.fn(p.done, p.total)
}

// stop makes every later add a no-op: nothing is reported once the copy has returned, even by a goroutine
// of the session still winding down.
func (p *progress) stop() {
	p.mu.Lock()
	p.fn = nil
	p.mu.Unlock()
}

// limitedBuffer keeps the first 4 KiB written to it: a remote command's standard error, for messages.
type limitedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *limitedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if room := 4096 - l.b.Len(); room > 0 {
		l.b.Write(p[:min(len(p), room)])
	}
	return len(p), nil
}

func (l *limitedBuffer) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Len()
}

func (l *limitedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.TrimSpace(l.b.String())
}

func truncate(b []byte, n int) []byte {
	if len(b) > n {
		return b[:n]
	}
	return b
}

package filecopy

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/shell"
)

// flushSize is how much decoded data a range gathers before it writes to the file and reports progress.
const flushSize = 32 << 10

// CopyFrom copies the remote regular file remote on target (an instance id) to local, like scp: when local
// is an existing directory the file keeps its name there. A session of cfg.FromDocument first reads the
// file's size, mode and SHA-256; then cfg.Sessions sessions read ranges of it in parallel (see the comment
// at the top of copy.go), each range checked against a SHA-256 computed remotely and read again from where
// it stopped when its session was lost (cfg.Retries times). The assembled file, written under a temporary
// name next to local, replaces local only when its SHA-256 matches the remote file's; on any failure it is
// removed. The file gets the remote file's mode minus the local umask.
//
// Errors are [*Error]s for what the remote side refused (fs.ErrNotExist, fs.ErrPermission, a directory,
// [ErrChecksum] when the file changed while it was read) or for sessions that ended too early
// ([ErrIncomplete] wrapping the session's error), the local file's errors, or StartSession's. When ctx ends
// first the sessions are terminated and ctx's error returned.
func From(ctx context.Context, c *ssmwire.Client, target, remote, local string, cfg *Config) (err error) {
	o, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if remote == "" {
		return errors.New("filecopy: copy from: empty remote path")
	}
	dest := local
	if fi, err := os.Stat(local); err == nil && fi.IsDir() {
		dest = filepath.Join(local, path.Base(remote))
	}
	dir, base := filepath.Split(dest)
	if dir == "" {
		dir = "."
	}
	if fi, err := os.Stat(dir); err != nil {
		return err
	} else if !fi.IsDir() {
		return &fs.PathError{Op: "copy from", Path: dir, Err: errors.New("not a directory")}
	}
	if base == "" {
		return &fs.PathError{Op: "copy from", Path: dest, Err: errors.New("is a directory")}
	}

	d := &download{c: c, o: o, target: target, remote: remote, path: remotePath(remote), token: newToken()}
	st, err := d.stat(ctx)
	if err != nil {
		return err
	}

	tmpName := filepath.Join(dir, "."+base+".ssmwire-"+d.token)
	f, err := os.OpenFile(tmpName, os.O_RDWR|os.O_CREATE|os.O_EXCL, st.mode)
	if err != nil {
		return err
	}
	defer func() {
		if f != nil {
			f.Close()
		}
		if err != nil {
			os.Remove(tmpName)
		}
	}()

	d.f = f
	d.prog = &progress{fn: o.Progress, total: st.size}
	defer d.prog.stop()
	if err := d.readAll(ctx, splitRanges(st.size, o.Sessions, o.MinRange)); err != nil {
		return err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != st.sum {
		return d.fail("the file changed while it was read (local "+got+", remote "+st.sum+")", ErrChecksum)
	}
	if err := f.Sync(); err != nil {
		return err
	}
	cerr := f.Close()
	f = nil
	if cerr != nil {
		return cerr
	}
	if st.size == 0 {
		d.prog.add(0)
	}
	return os.Rename(tmpName, dest)
}

// download is one CopyFrom.
type download struct {
	c      *ssmwire.Client
	o      Config
	target string
	remote string // as the caller gave it, for errors
	path   string // what the scripts get (remotePath)
	token  string
	f      *os.File // the temporary file; WriteAt from every range
	prog   *progress
}

type remoteStat struct {
	size int64
	mode os.FileMode
	sum  string
}

func (d *download) fail(detail string, err error) error {
	return &Error{Op: "copy from", Target: d.target, Path: d.remote, Detail: detail, Err: err}
}

// stat reads the remote file's size, mode and SHA-256, asking again when the session is lost.
func (d *download) stat(ctx context.Context) (remoteStat, error) {
	for attempt := 0; ; attempt++ {
		st, err := d.statOnce(ctx)
		if err == nil || ctx.Err() != nil || !errors.Is(err, ErrIncomplete) || attempt >= d.o.Retries {
			return st, err
		}
		d.c.Logger().Debug("filecopy: copy from: session lost, asking again", "target", d.target, "path", d.remote, "err", err)
	}
}

func (d *download) statOnce(ctx context.Context) (remoteStat, error) {
	var st remoteStat
	found := false
	lines := &markerLines{line: func(l []byte) error {
		word, rest, ok := parseMarker(l, d.token)
		if !ok {
			return nil
		}
		switch word {
		case "ERR":
			return remoteError("copy from", d.target, d.remote, rest)
		case "STAT":
			f := strings.Fields(rest)
			if len(f) != 3 {
				return d.fail(fmt.Sprintf("unexpected answer %q", rest), ErrRemoteFailed)
			}
			size, err1 := strconv.ParseInt(f[0], 10, 64)
			mode, err2 := strconv.ParseUint(f[1], 8, 32)
			if err1 != nil || err2 != nil || size < 0 || len(f[2]) != sha256.Size*2 {
				return d.fail(fmt.Sprintf("unexpected answer %q", rest), ErrRemoteFailed)
			}
			st = remoteStat{size: size, mode: os.FileMode(mode) & os.ModePerm, sum: f[2]}
			found = true
		}
		return nil
	}}
	s, err := d.c.StartSession(ctx, &ssm.StartSessionInput{
		Target: &d.target, DocumentName: &d.o.FromDocument,
		Parameters: map[string][]string{"command": {ssmwire.ShellCommand(statScript(d.token, d.path))}},
	})
	if err != nil {
		return st, err
	}
	defer s.Close()
	var stderr limitedBuffer
	err = s.Shell(ctx, &shell.Config{Stdout: lines, Stderr: &stderr})
	if lerr := lines.finish(); lerr != nil {
		return st, lerr
	}
	if found {
		return st, nil
	}
	if ctx.Err() != nil {
		return st, ctx.Err()
	}
	var ee *ssmwire.ExitError
	if err == nil || errors.As(err, &ee) {
		return st, d.fail(stderr.String(), fmt.Errorf("%w: no answer from the remote command", ErrRemoteFailed))
	}
	return st, d.fail("", fmt.Errorf("%w: %w", ErrIncomplete, err))
}

// byteRange is a part of the file: length bytes from off.
type byteRange struct{ off, length int64 }

// splitRanges cuts size bytes into up to n ranges of at least minRange bytes (the last one may be shorter
// when there is just one).
func splitRanges(size int64, n int, minRange int64) []byteRange {
	if size == 0 {
		return nil
	}
	if minRange > 0 {
		n = int(min(int64(n), max(1, size/minRange)))
	}
	out := make([]byteRange, 0, n)
	per, extra := size/int64(n), size%int64(n)
	var off int64
	for i := range n {
		l := per
		if int64(i) < extra {
			l++
		}
		out = append(out, byteRange{off, l})
		off += l
	}
	return out
}

// readAll reads every range, each over its own session, and returns the first failure (which stops the
// others).
func (d *download) readAll(ctx context.Context, ranges []byteRange) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		wg    sync.WaitGroup
		once  sync.Once
		first error
	)
	for _, r := range ranges {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := d.readRange(ctx, r); err != nil {
				once.Do(func() { first = err; cancel() })
			}
		}()
	}
	wg.Wait()
	return first
}

// readRange reads r, starting again from where it stopped when a session is lost.
func (d *download) readRange(ctx context.Context, r byteRange) error {
	var got int64
	for attempt := 0; ; attempt++ {
		n, err := d.readOnce(ctx, byteRange{r.off + got, r.length - got})
		got += n
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if !errors.Is(err, ErrIncomplete) || attempt >= d.o.Retries {
			return err
		}
		d.c.Logger().Debug("filecopy: copy from: session lost, reading the rest of the range again",
			"target", d.target, "path", d.remote, "offset", r.off+got, "left", r.length-got, "err", err)
	}
}

// readOnce reads r over one session and returns how many bytes of it it wrote to the file, in order from
// r.off, and nil once they all came and matched the remote SHA-256.
func (d *download) readOnce(ctx context.Context, r byteRange) (int64, error) {
	w := &rangeWriter{f: d.f, off: r.off, h: sha256.New(), prog: d.prog}
	var sum string
	lines := &markerLines{line: func(l []byte) error {
		if word, rest, ok := parseMarker(l, d.token); ok {
			switch word {
			case "ERR":
				return remoteError("copy from", d.target, d.remote, rest)
			case "SUM":
				sum = rest
			}
			return nil
		}
		if sum != "" || bytes.IndexByte(l, ' ') >= 0 {
			return d.fail(fmt.Sprintf("unexpected output %q", truncate(l, 80)), ErrRemoteFailed)
		}
		return w.line(l)
	}}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	lines.onErr = func(err error) { cancel(err) }

	s, err := d.c.StartSession(ctx, &ssm.StartSessionInput{
		Target: &d.target, DocumentName: &d.o.FromDocument,
		Parameters: map[string][]string{"command": {ssmwire.ShellCommand(rangeScript(d.token, d.path, r.off, r.length))}},
	})
	if err != nil {
		return 0, err
	}
	defer s.Close()
	var stderr limitedBuffer
	runErr := s.Shell(runCtx, &shell.Config{Stdout: lines, Stderr: &stderr})
	lineErr := lines.finish()
	ferr := w.flush()
	switch {
	case lineErr != nil:
		return w.written, lineErr
	case ferr != nil:
		return w.written, ferr
	case ctx.Err() != nil:
		return w.written, ctx.Err()
	case sum == "":
		var ee *ssmwire.ExitError
		if runErr == nil || errors.As(runErr, &ee) {
			runErr = errors.New("the remote command ended without a result")
			if stderr.Len() > 0 {
				runErr = fmt.Errorf("%w: %s", runErr, stderr.String())
			}
		}
		return w.written, d.fail("", fmt.Errorf("%w: %w", ErrIncomplete, runErr))
	case w.written != r.length:
		return w.written, d.fail(fmt.Sprintf("%d bytes of %d at offset %d came (did the file shrink?)", w.written, r.length, r.off), ErrRemoteFailed)
	case hex.EncodeToString(w.h.Sum(nil)) != sum:
		return w.written, d.fail(fmt.Sprintf("range at offset %d: local %x, remote %s", r.off, w.h.Sum(nil), sum), ErrChecksum)
	}
	return w.written, nil
}

// rangeWriter decodes a range's base64 lines into the file at its offset, hashing them.
type rangeWriter struct {
	f       *os.File
	off     int64 // where buf goes
	h       hash.Hash
	prog    *progress
	buf     []byte
	written int64 // bytes decoded, flushed or not
}

func (w *rangeWriter) line(l []byte) error {
	if len(l) == 0 {
		return nil
	}
	n, need := len(w.buf), base64.StdEncoding.DecodedLen(len(l))
	w.buf = slices.Grow(w.buf, need)[:n+need]
	m, err := base64.StdEncoding.Decode(w.buf[n:], l)
	if err != nil {
		return fmt.Errorf("%w: output is not base64: %v", ErrRemoteFailed, err)
	}
	w.buf = w.buf[:n+m]
	w.h.Write(w.buf[n:])
	w.written += int64(m)
	if len(w.buf) >= flushSize {
		return w.flush()
	}
	return nil
}

func (w *rangeWriter) flush() error {
	if len(w.buf) == 0 {
		return nil
	}
	if _, err := w.f.WriteAt(w.buf, w.off); err != nil {
		return err
	}
	w.off += int64(len(w.buf))
	w.prog.add(int64(len(w.buf)))
	w.buf = w.buf[:0]
	return nil
}

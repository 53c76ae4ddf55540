package filecopy

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/shell"
)

// cleanupTimeout bounds the command that removes an upload's temporary file after its session was lost.
const cleanupTimeout = 30 * time.Second

// CopyTo copies the local regular file local to remote on target (an instance id), like scp: when remote is
// an existing directory the file keeps its name there. It runs a session of cfg.ToDocument (a
// pseudo-terminal, see the comment at the top of copy.go): the file arrives under a temporary name next to
// the destination and replaces it only when the SHA-256 computed remotely matches the local one; on any
// failure nothing is left at the destination. When the session is lost for good, a new one goes on from what
// the temporary file holds (cfg.Retries times). The file gets the local file's mode minus the remote umask.
//
// Errors are [*Error]s for what the remote side refused (fs.ErrNotExist for a missing directory,
// fs.ErrPermission, [ErrRemoteWrite] for a full disk, [ErrChecksum]) or for a session that ended too early
// ([ErrIncomplete] wrapping the session's error), the local file's error, or StartSession's. When ctx ends
// first the session is terminated and ctx's error returned.
func To(ctx context.Context, c *ssmwire.Client, target, local, remote string, cfg *Config) error {
	o, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if remote == "" {
		return errors.New("filecopy: copy to: empty remote path")
	}
	f, err := os.Open(local)
	if err != nil {
		return err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return err
	}
	if !fi.Mode().IsRegular() {
		return fmt.Errorf("filecopy: copy to: %s: not a regular file", local)
	}
	size := fi.Size()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return err
	}
	sum := hex.EncodeToString(h.Sum(nil))
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return err
	}

	u := &upload{c: c, o: o, target: target, remote: remote, rpath: remotePath(remote), name: filepath.Base(local),
		token: newToken(), f: f, size: size, sum: sum, mode: uint32(fi.Mode().Perm()),
		prog: &progress{fn: o.Progress, total: size}}
	defer u.prog.stop()
	for attempt := 0; ; attempt++ {
		err := u.once(ctx, attempt > 0)
		if err == nil {
			return nil
		}
		var ce *Error
		if errors.As(err, &ce) && !errors.Is(err, ErrIncomplete) {
			return err // the script reported it and removed its temporary file
		}
		if errors.Is(err, ErrIncomplete) && ctx.Err() == nil && attempt < o.Retries {
			c.Logger().Debug("filecopy: copy to: session lost, going on where the remote file stopped",
				"target", target, "path", remote, "err", err)
			continue
		}
		// A lost session, a local failure or ctx's end: the temporary file may remain, once a session ran.
		if u.started {
			cleanUpload(ctx, c, target, u.rpath, u.name, u.token, o.FromDocument)
		}
		return err
	}
}

// upload is one CopyTo.
type upload struct {
	c                     *ssmwire.Client
	o                     Config
	target, remote, rpath string
	name, token, sum      string
	f                     *os.File
	size                  int64
	mode                  uint32
	prog                  *progress
	started               bool // a session was started: its script may have made the temporary file
}

// once runs the upload script in one session. With resume, the script goes on from what a lost session
// left in the temporary file (or, when that session completed, only confirms). It returns nil once the file
// is in place, the script's error, an error wrapping ErrIncomplete when the session ended too early, the
// local file's error, or ctx's.
func (u *upload) once(ctx context.Context, resume bool) error {
	script := uploadScript(u.token, u.rpath, u.name, u.size, u.sum, u.mode, resume)
	s, err := u.c.StartSession(ctx, &ssm.StartSessionInput{
		Target: &u.target, DocumentName: &u.o.ToDocument,
		Parameters: map[string][]string{"command": {ssmwire.ShellCommand(script)}},
	})
	if err != nil {
		return err
	}
	u.started = true
	// Ended before anything else happens after a failure, so that this session's script cannot write to
	// the temporary file while the next one (or the cleanup) uses it.
	defer s.Close()

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		readyOnce sync.Once
		ready     = make(chan struct{})
		from      int64 // what the temporary file already holds; set before ready is closed
		okSum     string
	)
	lines := &markerLines{
		line: func(l []byte) error {
			word, rest, ok := parseMarker(l, u.token)
			if !ok {
				return nil // a terminal may show other things; only our lines count
			}
			switch word {
			case "READY":
				k, err := strconv.ParseInt(strings.TrimSpace(rest), 10, 64)
				if err != nil || k < 0 || k > u.size {
					return u.fail(fmt.Sprintf("unexpected answer %q", rest), ErrRemoteFailed)
				}
				readyOnce.Do(func() { from = k; close(ready) })
			case "OK":
				okSum = rest
			case "ERR":
				return remoteError("copy to", u.target, u.remote, rest)
			}
			return nil
		},
		onErr: func(err error) { cancel(err) },
	}
	in := &uploadReader{ctx: runCtx, ready: ready, from: &from, f: u.f, size: u.size, prog: u.prog, fail: cancel}
	runErr := s.Shell(runCtx, &shell.Config{Stdin: in, Stdout: lines, Stderr: lines})
	lineErr := lines.finish()
	switch {
	case lineErr != nil:
		return lineErr
	case okSum != "" && okSum == u.sum:
		u.prog.set(u.size)
		return nil
	case okSum != "":
		return u.fail("remote SHA-256 "+okSum, ErrChecksum)
	}
	if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil {
		return cause // the local file failed
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if runErr == nil {
		runErr = errors.New("the remote command ended without a result")
	}
	return u.fail("", fmt.Errorf("%w: %w", ErrIncomplete, runErr))
}

func (u *upload) fail(detail string, err error) error {
	return &Error{Op: "copy to", Target: u.target, Path: u.remote, Detail: detail, Err: err}
}

// cleanUpload removes what a lost upload session may have left, best effort and bounded in time, also when
// ctx has ended.
func cleanUpload(ctx context.Context, c *ssmwire.Client, target, remote, name, token, doc string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := c.Run(ctx, target, ssmwire.Command{Document: doc, Command: cleanupScript(token, remote, name)})
	if err != nil {
		c.Logger().Warn("filecopy: copy to: could not remove the temporary file", "target", target, "path", remote, "err", err)
	}
}

// uploadReader is the upload's standard input: nothing until the remote side said READY (the terminal is
// raw), then the file from what the remote temporary file already holds to its size, counted as they go.
type uploadReader struct {
	ctx   context.Context
	ready <-chan struct{}
	from  *int64 // valid once ready is closed
	f     *os.File
	size  int64
	r     io.Reader // nil until the first read after ready
	sent  int64
	prog  *progress
	fail  context.CancelCauseFunc
}

func (u *uploadReader) Read(p []byte) (int, error) {
	select {
	case <-u.ready:
	case <-u.ctx.Done():
		return 0, u.ctx.Err()
	}
	if u.r == nil {
		if _, err := u.f.Seek(*u.from, io.SeekStart); err != nil {
			u.fail(err)
			return 0, err
		}
		u.sent = *u.from
		u.r = io.LimitReader(u.f, u.size-u.sent)
		u.prog.set(u.sent)
	}
	n, err := u.r.Read(p)
	if n > 0 {
		u.sent += int64(n)
		u.prog.add(int64(n))
	}
	if err == io.EOF && u.sent < u.size {
		err = fmt.Errorf("filecopy: copy to: the local file shrank to %d bytes while being sent", u.sent)
	}
	if err != nil && err != io.EOF {
		u.fail(err) // the remote side would wait for the missing bytes forever
	}
	return n, err
}

package ssmwire

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/shell"
)

// cleanupTimeout bounds the command that removes an upload's temporary file after its session was lost.
const cleanupTimeout = 30 * time.Second

// CopyTo copies the local regular file local to remote on target (an instance id), like scp: when remote is
// an existing directory the file keeps its name there. It runs one session of cfg.ToDocument (a
// pseudo-terminal, see the comment at the top of copy.go): the file arrives under a temporary name next to
// the destination and replaces it only when the SHA-256 computed remotely matches the local one; on any
// failure nothing is left at the destination. The file gets the local file's mode minus the remote umask.
//
// Errors are [*CopyError]s for what the remote side refused (fs.ErrNotExist for a missing directory,
// fs.ErrPermission, [ErrRemoteWrite] for a full disk, [ErrChecksum]) or for a session that ended too early
// ([ErrIncomplete] wrapping the session's error), the local file's error, or StartSession's. When ctx ends
// first the session is terminated and ctx's error returned.
func (c *Client) CopyTo(ctx context.Context, target, local, remote string, cfg *CopyConfig) error {
	o, err := cfg.withDefaults()
	if err != nil {
		return err
	}
	if remote == "" {
		return errors.New("ssmwire: copy to: empty remote path")
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
		return fmt.Errorf("ssmwire: copy to: %s: not a regular file", local)
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

	token := newToken()
	name := filepath.Base(local)
	rpath := remotePath(remote)
	script := uploadScript(token, rpath, name, size, sum, uint32(fi.Mode().Perm()))
	fail := func(detail string, err error) error {
		return &CopyError{Op: "copy to", Target: target, Path: remote, Detail: detail, Err: err}
	}

	s, err := c.StartSession(ctx, &ssm.StartSessionInput{
		Target: &target, DocumentName: &o.ToDocument,
		Parameters: map[string][]string{"command": {ShellCommand(script)}},
	})
	if err != nil {
		return err
	}
	defer s.Close()

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var (
		readyOnce sync.Once
		ready     = make(chan struct{})
		okSum     string
	)
	lines := &markerLines{
		line: func(l []byte) error {
			word, rest, ok := parseMarker(l, token)
			if !ok {
				return nil // a terminal may show other things; only our lines count
			}
			switch word {
			case "READY":
				readyOnce.Do(func() { close(ready) })
			case "OK":
				okSum = rest
			case "ERR":
				return remoteError("copy to", target, remote, rest)
			}
			return nil
		},
		onErr: func(err error) { cancel(err) },
	}
	prog := &progress{fn: o.Progress, total: size}
	defer prog.stop()
	in := &uploadReader{ctx: runCtx, ready: ready, r: io.LimitReader(f, size), size: size, prog: prog, fail: cancel}
	runErr := s.Shell(runCtx, &shell.Config{Stdin: in, Stdout: lines, Stderr: lines})
	lineErr := lines.finish()
	switch {
	case lineErr != nil:
		return lineErr // the script reported it and removed its temporary file
	case okSum != "" && okSum == sum:
		if size == 0 {
			prog.add(0)
		}
		return nil
	case okSum != "":
		s.Close()
		c.cleanUpload(ctx, target, rpath, name, token, o.FromDocument)
		return fail("remote SHA-256 "+okSum, ErrChecksum)
	}
	// The session ended before the script finished: its temporary file may remain. The session is ended
	// first, so that the script cannot create the file after the cleanup removed it.
	s.Close()
	c.cleanUpload(ctx, target, rpath, name, token, o.FromDocument)
	if cause := context.Cause(runCtx); cause != nil && ctx.Err() == nil {
		return cause // the local file failed
	}
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if runErr == nil {
		runErr = errors.New("the remote command ended without a result")
	}
	return fail("", fmt.Errorf("%w: %w", ErrIncomplete, runErr))
}

// cleanUpload removes what a lost upload session may have left, best effort and bounded in time, also when
// ctx has ended.
func (c *Client) cleanUpload(ctx context.Context, target, remote, name, token, doc string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	err := c.Run(ctx, target, Command{Document: doc, Command: cleanupScript(token, remote, name)})
	if err != nil {
		c.log.Warn("ssmwire: copy to: could not remove the temporary file", "target", target, "path", remote, "err", err)
	}
}

// uploadReader is the upload's standard input: nothing until the remote side said READY (the terminal is
// raw), then exactly size bytes of the file, counted as they go.
type uploadReader struct {
	ctx   context.Context
	ready <-chan struct{}
	r     io.Reader
	size  int64
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
	n, err := u.r.Read(p)
	if n > 0 {
		u.sent += int64(n)
		u.prog.add(int64(n))
	}
	if err == io.EOF && u.sent < u.size {
		err = fmt.Errorf("ssmwire: copy to: the local file shrank to %d bytes while being sent", u.sent)
	}
	if err != nil && err != io.EOF {
		u.fail(err) // the remote side would wait for the missing bytes forever
	}
	return n, err
}

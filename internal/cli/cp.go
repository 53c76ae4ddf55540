package cli

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/ssmwire/ssmwire/filecopy"
	"github.com/ssmwire/ssmwire/shell"
)

func cpCommand() *command {
	return &command{
		name:    "cp",
		args:    "[TARGET:]SOURCE [TARGET:]DEST",
		summary: "Copy a file to or from TARGET",
		help: `
Exactly one of SOURCE and DEST is remote, written TARGET:PATH as with scp (a local path with
a colon is written ./a:b); a relative PATH, or ~/PATH, is relative to the remote home
directory. When DEST is a directory the file keeps its name there.

Only AWS's documents and the tools of a stock Linux instance are used: downloads read the
file as base64 with AWS-StartNonInteractiveCommand, uploads go through a pseudo-terminal made
raw (stty raw -echo) with AWS-StartInteractiveCommand. The file is written under a temporary
name next to DEST and renamed over DEST only when the SHA-256 computed on both ends matches;
on any failure nothing is left at DEST.

The agent paces each session's output (under 1 MiB/s of base64), so --sessions N reads N
ranges of a large file over N sessions at once, each range checked with its own SHA-256, for
up to N times the speed (downloads only; ranges are at least 1 MiB). A copy whose session is
lost for good goes on over a new session from where it stopped (twice at most).

AWS-StartNonInteractiveCommand sends a command's output only once the command has ended
(the agent keeps it in a file on the instance meanwhile); --document SSMWire-RunCommand
(see exec) streams it instead. Uploads need AWS-StartInteractiveCommand.

On a terminal a progress line shows bytes, rate and the time left; otherwise cp is silent.

Examples:
  ssmwire cp ./app.tar.gz web:/tmp/
  ssmwire cp i-0123456789abcdef0:/var/log/syslog .
  ssmwire cp --sessions 4 web:/data/dump.sql ./`,
		flags: func(fs *flag.FlagSet, o *cmdOptions) {
			fs.StringVar(&o.sessions, "sessions", "1", "download over `N` sessions in parallel (1-"+strconv.Itoa(filecopy.MaxSessions)+")")
			fs.StringVar(&o.document, "document", filecopy.DefaultFromDocument, "NonInteractiveCommands `document` for downloads")
		},
		run: runCp,
	}
}

// splitRemote splits an scp-style argument: TARGET:PATH is remote when a colon comes before any slash.
func splitRemote(arg string) (target, path string, remote bool) {
	i := strings.IndexByte(arg, ':')
	if i <= 0 || strings.Contains(arg[:i], "/") {
		return "", arg, false
	}
	return arg[:i], arg[i+1:], true
}

func runCp(ctx context.Context, a *app, o *cmdOptions, args []string) error {
	if len(args) != 2 {
		return usagef("cp: want a SOURCE and a DEST")
	}
	srcT, src, srcRemote := splitRemote(args[0])
	dstT, dst, dstRemote := splitRemote(args[1])
	if srcRemote == dstRemote {
		return usagef("cp: exactly one of SOURCE and DEST must be TARGET:PATH")
	}
	n, err := strconv.Atoi(o.sessions)
	if err != nil || n < 1 || n > filecopy.MaxSessions {
		return usagef("cp: --sessions must be a number from 1 to %d, not %q", filecopy.MaxSessions, o.sessions)
	}
	if n > 1 && dstRemote {
		return usagef("cp: --sessions applies to downloads only")
	}
	targetArg, remotePath := srcT, src
	if dstRemote {
		targetArg, remotePath = dstT, dst
	}
	if targetArg == "ecs" {
		return usagef("cp: ECS tasks are not supported, only instances (i-…, mi-…, or a Name tag)")
	}
	if remotePath == "" {
		return usagef("cp: %q names no remote path", targetArg+":")
	}
	c, t, err := a.target(ctx, targetArg)
	if err != nil {
		return err
	}
	bar := newProgressLine(a.stderr, !a.g.quiet && !a.g.json && shell.IsTerminal(a.stderr), time.Now)
	cfg := &filecopy.Config{Sessions: n, FromDocument: o.document, Progress: bar.update}
	if srcRemote {
		err = filecopy.From(ctx, c.wire, t.ID, remotePath, dst, cfg)
	} else {
		err = filecopy.To(ctx, c.wire, t.ID, src, remotePath, cfg)
	}
	bar.finish()
	return a.sessionResult(ctx, c, err)
}

// progressLine draws "  3.2 MiB / 16.0 MiB  20%  1.1 MiB/s  ETA 0:12" in place on a terminal, at most
// five times a second and once at the end.
type progressLine struct {
	w   io.Writer
	on  bool
	now func() time.Time

	mu          sync.Mutex
	start, last time.Time
	done, total int64
	drawn       bool
}

func newProgressLine(w io.Writer, on bool, now func() time.Time) *progressLine {
	return &progressLine{w: w, on: on, now: now}
}

func (p *progressLine) update(done, total int64) {
	if !p.on {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.now()
	if p.start.IsZero() {
		p.start = t
	}
	p.done, p.total = done, total
	if done < total && t.Sub(p.last) < 200*time.Millisecond {
		return
	}
	p.last = t
	p.draw(t)
}

func (p *progressLine) draw(t time.Time) {
	p.drawn = true
	line := fmt.Sprintf("%s / %s", byteSize(p.done), byteSize(p.total))
	if p.total > 0 {
		line += fmt.Sprintf("  %3d%%", p.done*100/p.total)
	}
	if el := t.Sub(p.start).Seconds(); el > 0 && p.done > 0 {
		rate := float64(p.done) / el
		line += fmt.Sprintf("  %s/s", byteSize(int64(rate)))
		if p.done < p.total {
			line += "  ETA " + etaClock(time.Duration(float64(p.total-p.done)/rate*float64(time.Second)))
		} else {
			line += "  in " + etaClock(t.Sub(p.start))
		}
	}
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
}

// finish ends the line, if one was drawn.
func (p *progressLine) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.drawn {
		fmt.Fprint(p.w, "\n")
	}
}

func byteSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

func etaClock(d time.Duration) string {
	s := int64(d.Round(time.Second) / time.Second)
	if s >= 3600 {
		return fmt.Sprintf("%d:%02d:%02d", s/3600, s/60%60, s%60)
	}
	return fmt.Sprintf("%d:%02d", s/60, s%60)
}

package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

const mib = 1 << 20

// Run measures everything cfg asks for and returns the report. Progress lines go to progress.
func Run(ctx context.Context, cfg *Config, progress io.Writer) (*Report, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	for _, p := range cfg.Plugins {
		if _, err := os.Stat(p.Path); err != nil {
			return nil, fmt.Errorf("plugin %s: %w", p.Name, err)
		}
	}
	rep := &Report{
		Machine:  ThisMachine(),
		Started:  time.Now(),
		Size:     cfg.Size,
		Pacing:   cfg.Pacing,
		Form:     cfg.Form,
		Echoes:   cfg.Echoes,
		EchoSize: cfg.EchoSize,
		Chunk:    cfg.CeilingChunk,
		Modes:    cfg.Modes,
		Plugins:  cfg.Plugins,
	}
	logf := func(format string, args ...any) {
		if progress != nil {
			fmt.Fprintf(progress, format+"\n", args...)
		}
	}
	transfers := []transfer{upload{cfg.Size}, download{cfg.Size}, echo{cfg.Echoes, cfg.EchoSize}}
	for _, mode := range cfg.Modes {
		e := newEmulator(mode, cfg.Pacing)
		if cfg.Ceiling {
			row := Row{Name: CeilingName, Mode: mode, Ceiling: true}
			for _, t := range transfers {
				m, st, err := throughCeiling(ctx, e, mode, t, cfg.Size, cfg.CeilingChunk, cfg.Timeout)
				logf("%s %s: %s: %s", mode, CeilingName, name(t), summary(m, procStats{}, err))
				row.Session.add(st)
				if err != nil {
					row.Errors = append(row.Errors, fmt.Sprintf("%s: %v", name(t), err))
					continue
				}
				row.record(t, m)
			}
			rep.Rows = append(rep.Rows, row)
		}
		for _, p := range cfg.Plugins {
			row := Row{Name: p.Name, Path: p.Path, Mode: mode}
			var ready []float64
			for _, t := range transfers {
				m, ps, st, err := throughPlugin(ctx, e, p, cfg.Form, t, cfg.Size, cfg.Timeout)
				logf("%s %s: %s: %s", mode, p.Name, name(t), summary(m, ps, err))
				row.Session.add(st)
				row.PeakRSSMiB = max(row.PeakRSSMiB, float64(ps.MaxRSS)/mib)
				row.ReadyRSSMiB = max(row.ReadyRSSMiB, float64(ps.ReadyRSS)/mib)
				row.Exits = append(row.Exits, name(t)+": "+ps.Exit)
				if ps.Ready > 0 {
					ready = append(ready, ms(ps.Ready))
				}
				if err != nil {
					row.Errors = append(row.Errors, fmt.Sprintf("%s: %v", name(t), err))
					continue
				}
				row.record(t, m)
				switch t.(type) {
				case upload:
					row.UploadCPUPerMiB = ps.CPU.Seconds() / (float64(cfg.Size) / mib)
				case download:
					row.DownloadCPUPerMiB = ps.CPU.Seconds() / (float64(cfg.Size) / mib)
				}
			}
			row.ReadyMs = median(ready)
			rep.Rows = append(rep.Rows, row)
		}
		e.close()
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	rep.Goals = rep.CheckGoals()
	return rep, nil
}

func (r *Row) record(t transfer, m measured) {
	switch t.(type) {
	case upload:
		r.UploadMiBps = float64(m.Bytes) / mib / m.Elapsed.Seconds()
	case download:
		r.DownloadMiBps = float64(m.Bytes) / mib / m.Elapsed.Seconds()
	case echo:
		r.EchoP50us = us(percentile(m.RTTs, 50))
		r.EchoP99us = us(percentile(m.RTTs, 99))
	}
}

// summary is one progress line's worth of a measurement.
func summary(m measured, ps procStats, err error) string {
	var b strings.Builder
	if err != nil {
		fmt.Fprintf(&b, "FAILED: %v", err)
	} else if len(m.RTTs) > 0 {
		fmt.Fprintf(&b, "p50 %.0f µs, p99 %.0f µs", us(percentile(m.RTTs, 50)), us(percentile(m.RTTs, 99)))
	} else if m.Elapsed > 0 {
		fmt.Fprintf(&b, "%.2f MiB/s", float64(m.Bytes)/mib/m.Elapsed.Seconds())
	}
	if ps.Exit != "" {
		fmt.Fprintf(&b, " [ready %.0f ms, CPU %.3f s, RSS %.1f MiB, %s]", ms(ps.Ready), ps.CPU.Seconds(), float64(ps.MaxRSS)/mib, ps.Exit)
	}
	return b.String()
}

func name(t transfer) string {
	switch t.(type) {
	case upload:
		return "upload"
	case download:
		return "download"
	}
	return "echo"
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }
func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

func median(v []float64) float64 {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[len(s)/2]
}

// Main is the ssmbench command: it parses args, runs, prints the report to stdout and progress to stderr,
// and returns the exit code: 0 when every measurement succeeded, 1 when some failed (the report still
// shows the rest), 2 for a usage error.
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cfg, err := ParseArgs(args, stderr)
	if errors.Is(err, ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ssmbench:", err)
		return 2
	}
	progress := stderr
	if cfg.JSON {
		progress = nil
	}
	rep, err := Run(ctx, cfg, progress)
	if rep == nil {
		fmt.Fprintln(stderr, "ssmbench:", err)
		return 1
	}
	rep.Command = "ssmbench " + strings.Join(args, " ")
	if cfg.JSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if werr := enc.Encode(rep); werr != nil {
			fmt.Fprintln(stderr, "ssmbench:", werr)
			return 1
		}
	} else if werr := rep.WriteText(stdout); werr != nil {
		fmt.Fprintln(stderr, "ssmbench:", werr)
		return 1
	}
	if err != nil {
		fmt.Fprintln(stderr, "ssmbench:", err)
		return 1
	}
	for _, row := range rep.Rows {
		if len(row.Errors) > 0 {
			return 1
		}
	}
	return 0
}

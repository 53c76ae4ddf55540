package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	rtmetrics "runtime/metrics"
	"slices"
	"strings"
	"time"
)

const mib = 1 << 20

// EmulatorGCPercent is the garbage collector's target of the ssmbench process (the emulator, the ceiling
// relay, the destination servers) for a measurement, unless GOGC is set. Its live heap is a few MiB and it
// allocates for every message it relays, so at Go's default of 100 its collector took 14 % of its CPU in a
// 1 KiB upload: CPU that a 2-core machine then lacked for the plugin under test and the relay, whose upload
// is bound by the emulator. At 400 the ceiling's mux upload went from 59 to 75 MiB/s (BENCHMARKS.md, "Issue
// 18, fourth pass"). The plugins are not affected: they do not inherit it.
const EmulatorGCPercent = 400

// useEmulatorGC sets the process's GC target to EmulatorGCPercent unless GOGC is set.
func useEmulatorGC() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(EmulatorGCPercent)
	}
}

// gcPercent returns the process's current GC target (-1: off), read from runtime/metrics without touching it.
func gcPercent() int {
	s := []rtmetrics.Sample{{Name: "/gc/gogc:percent"}}
	rtmetrics.Read(s)
	if s[0].Value.Kind() != rtmetrics.KindUint64 {
		return -1
	}
	return int(s[0].Value.Uint64())
}

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
		RTTms:    ms(cfg.RTT),
		TLS:      cfg.TLS,
		TLSToo:   cfg.TLSToo,
		ProxyToo: cfg.ProxyToo,
		Form:     cfg.Form,
		Echoes:   cfg.Echoes,
		EchoSize: cfg.EchoSize,
		Chunk:    cfg.CeilingChunk,
		Repeat:   cfg.Repeat,
		Modes:    cfg.Modes,
		Plugins:  cfg.Plugins,
		LoadAvg:  [2]string{loadAverage()},
	}
	plugins := slices.Clone(cfg.Plugins)
	if cfg.TLSToo {
		for _, p := range cfg.Plugins {
			p.Name += TLSSuffix
			p.tls = true
			plugins = append(plugins, p)
		}
		rep.Plugins = plugins
	}
	var tp *tinyproxy
	if cfg.ProxyToo {
		var err error
		if tp, err = startTinyproxy(); err != nil {
			return rep, err
		}
		defer tp.close()
		for _, p := range cfg.Plugins {
			p.Name += ProxySuffix
			p.proxy = true
			// Main's environment wins over the process's (exec keeps a variable's last value).
			p.Env = append(slices.Clone(p.Env), "HTTPS_PROXY="+tp.url(), "https_proxy="+tp.url(), "NO_PROXY=", "no_proxy=")
			plugins = append(plugins, p)
		}
		rep.Plugins = plugins
	}
	logf := func(format string, args ...any) {
		if progress != nil {
			fmt.Fprintf(progress, format+"\n", args...)
		}
	}
	transfers := []transfer{upload{cfg.Size}, download{cfg.Size}, echo{cfg.Echoes, cfg.EchoSize}}
	for _, mode := range cfg.Modes {
		e, err := newEmulator(mode, cfg.Pacing, cfg.RTT, cfg.TLS)
		if err != nil {
			return rep, err
		}
		eTLS := e // the emulator of the NAME-tls rows
		if cfg.TLSToo {
			if eTLS, err = newEmulator(mode, cfg.Pacing, cfg.RTT, true); err != nil {
				e.close()
				return rep, err
			}
		}
		var eProxy *emulator // the emulator of the NAME-proxy rows, over TLS and named for the proxy
		if cfg.ProxyToo {
			if eProxy, err = newNamedEmulator(mode, cfg.Pacing, cfg.RTT, true, ProxyHostname); err != nil {
				e.close()
				if eTLS != e {
					eTLS.close()
				}
				return rep, err
			}
		}
		var rows []*rowSamples
		if cfg.Ceiling {
			rows = append(rows, &rowSamples{Row: Row{Name: CeilingName, Mode: mode, Ceiling: true}})
			if cfg.HopCeiling {
				rows = append(rows, &rowSamples{Row: Row{Name: HopName, Mode: mode, Ceiling: true, Hop: true}})
			}
		}
		for _, p := range plugins {
			rows = append(rows, &rowSamples{Row: Row{Name: p.Name, Path: p.Path, Mode: mode}, plugin: p})
		}
		// Repetitions go round every client in turn, so a drift of the machine or of this process's heap
		// touches all of them alike.
		for rep := 0; rep < cfg.Repeat && ctx.Err() == nil; rep++ {
			for _, row := range rows {
				for _, t := range transfers {
					runtime.GC() // start every measurement from the same heap state of the emulator
					var (
						m   measured
						ps  procStats
						st  sessionStats
						err error
					)
					if row.Ceiling {
						m, st, err = throughCeiling(ctx, e, mode, t, cfg.Size, cfg.CeilingChunk, cfg.Timeout, row.Hop)
					} else {
						em := e
						if row.plugin.tls {
							em = eTLS
						}
						if row.plugin.proxy {
							em = eProxy
						}
						p := row.plugin
						if cfg.PluginProfile != "" {
							prefix := filepath.Join(cfg.PluginProfile, fmt.Sprintf("%s-%s-%s-%d", p.Name, mode, name(t), rep+1))
							p.Env = append(slices.Clip(p.Env), "SSMWIRE_PROFILE="+prefix)
						}
						m, ps, st, err = throughPlugin(ctx, em, p, cfg.Form, t, cfg.Size, cfg.Timeout)
					}
					logf("%s %s: %s: %s", mode, row.Name, name(t), summary(m, ps, err))
					row.add(t, m, ps, st, err, cfg.Size)
				}
			}
		}
		for _, row := range rows {
			rep.Rows = append(rep.Rows, row.finish())
		}
		e.close()
		if eTLS != e {
			eTLS.close()
		}
		if eProxy != nil {
			eProxy.close()
		}
		if err := ctx.Err(); err != nil {
			return rep, err
		}
	}
	if tp != nil {
		rep.ProxyConnects = tp.connects()
	}
	rep.Seconds = time.Since(rep.Started).Seconds()
	rep.LoadAvg[1] = loadAverage()
	rep.Goals = rep.CheckGoals()
	return rep, nil
}

// rowSamples collects one client's measurements in one mode over the repetitions.
type rowSamples struct {
	Row
	plugin                   Plugin
	up, down, upCPU, downCPU []float64
	ready                    []float64
	rtts                     []time.Duration
}

func (r *rowSamples) add(t transfer, m measured, ps procStats, st sessionStats, err error, size int64) {
	r.Session.add(st)
	if !r.Ceiling {
		r.PeakRSSMiB = max(r.PeakRSSMiB, float64(ps.MaxRSS)/mib)
		r.ReadyRSSMiB = max(r.ReadyRSSMiB, float64(ps.ReadyRSS)/mib)
		r.BinaryRSSMiB = max(r.BinaryRSSMiB, float64(ps.Parts.Binary)/mib)
		r.AnonRSSMiB = max(r.AnonRSSMiB, float64(ps.Parts.Anon)/mib)
		r.Exits = append(r.Exits, name(t)+": "+ps.Exit)
		if ps.Ready > 0 {
			r.ready = append(r.ready, ms(ps.Ready))
		}
	}
	if err != nil {
		r.Errors = append(r.Errors, fmt.Sprintf("%s: %v", name(t), err))
		return
	}
	perMiB := ps.CPU.Seconds() / (float64(size) / mib)
	switch t.(type) {
	case upload:
		r.up = append(r.up, float64(m.Bytes)/mib/m.Elapsed.Seconds())
		r.upCPU = append(r.upCPU, perMiB)
	case download:
		r.down = append(r.down, float64(m.Bytes)/mib/m.Elapsed.Seconds())
		r.downCPU = append(r.downCPU, perMiB)
	case echo:
		r.rtts = append(r.rtts, m.RTTs...)
	}
}

// finish turns the samples into the row: medians of the repetitions' rates and CPU costs, percentiles of
// all round trips together.
func (r *rowSamples) finish() Row {
	r.Runs = max(len(r.up), len(r.down))
	r.UploadMiBps = median(r.up)
	r.DownloadMiBps = median(r.down)
	if !r.Ceiling {
		r.UploadCPUPerMiB = median(r.upCPU)
		r.DownloadCPUPerMiB = median(r.downCPU)
	}
	slices.Sort(r.rtts)
	r.EchoP50us = us(percentile(r.rtts, 50))
	r.EchoP99us = us(percentile(r.rtts, 99))
	r.ReadyMs = median(r.ready)
	return r.Row
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
	if len(args) > 0 { // subcommands with reports of their own (pool.go, idle.go, cp.go), and hop.go's forwarder
		switch args[0] {
		case "pool":
			return PoolMain(ctx, args[1:], stdout, stderr)
		case "idle":
			return IdleMain(ctx, args[1:], stdout, stderr)
		case "cp":
			return CpMain(ctx, args[1:], stdout, stderr)
		case hopCommand: // the forwarder of the ceiling+hop rows, not for users
			return HopForwardMain(args[1:], stdout, stderr)
		}
	}
	cfg, err := ParseArgs(args, stderr)
	if errors.Is(err, ErrHelp) {
		return 0
	}
	if err != nil {
		fmt.Fprintln(stderr, "ssmbench:", err)
		return 2
	}
	useEmulatorGC()
	progress := stderr
	if cfg.JSON {
		progress = nil
	}
	stop, err := cpuProfile(cfg.CPUProfile)
	if err != nil {
		fmt.Fprintln(stderr, "ssmbench:", err)
		return 1
	}
	defer stop()
	rep, err := Run(ctx, cfg, progress)
	if rep == nil {
		fmt.Fprintln(stderr, "ssmbench:", err)
		return 1
	}
	rep.Command = "ssmbench " + strings.Join(args, " ")
	if cfg.JSONOut != "" {
		b, jerr := json.MarshalIndent(rep, "", "  ")
		if jerr == nil {
			jerr = os.WriteFile(cfg.JSONOut, append(b, '\n'), 0o644)
		}
		if jerr != nil {
			fmt.Fprintln(stderr, "ssmbench:", jerr)
			return 1
		}
	}
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

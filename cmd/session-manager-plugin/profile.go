//go:build ssmwire_pprof

package main

import (
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/metrics"
	"runtime/pprof"
	"runtime/trace"
	"strconv"
	"strings"
	"time"
)

// startProfiles, in a build with the tag ssmwire_pprof (for ssmbench -plugin-profile), profiles the whole
// process when SSMWIRE_PROFILE names a path prefix P: a CPU profile to P.PID.cpu, and at exit a heap
// profile to P.PID.heap (every 4 KiB allocated sampled) and the runtime's memory classes to P.PID.mem;
// P.PID.peak.heap is the heap profile when the live heap was largest, P.PID.peak.mem the memory classes when
// the resident set was (both checked every 50 ms). With SSMWIRE_TRACE set too, an execution trace goes to
// P.PID.trace (go tool trace; -pprof=sched shows where goroutines waited to run).
func startProfiles() (stop func()) {
	prefix := os.Getenv("SSMWIRE_PROFILE")
	if prefix == "" {
		return func() {}
	}
	prefix += "." + strconv.Itoa(os.Getpid())
	runtime.MemProfileRate = 4096
	cpu, err := os.Create(prefix + ".cpu")
	if err == nil {
		err = pprof.StartCPUProfile(cpu)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "session-manager-plugin: profile:", err)
		return func() {}
	}
	var tr *os.File
	if os.Getenv("SSMWIRE_TRACE") != "" {
		if tr, err = os.Create(prefix + ".trace"); err == nil {
			err = trace.Start(tr)
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "session-manager-plugin: trace:", err)
		}
	}
	done := make(chan struct{})
	go peakHeap(prefix+".peak", done)
	return func() {
		close(done)
		if tr != nil {
			trace.Stop()
			_ = tr.Close()
		}
		pprof.StopCPUProfile()
		_ = cpu.Close()
		if f, err := os.Create(prefix + ".heap"); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			_ = f.Close()
		}
		if f, err := os.Create(prefix + ".mem"); err == nil {
			writeClasses(f)
			_ = f.Close()
		}
	}
}

// peakHeap writes the heap profile to path+".heap" whenever the live heap after a collection is the largest
// seen, and the runtime's memory classes to path+".mem" whenever the resident set (VmRSS) is (checked every
// 50 ms).
func peakHeap(path string, done chan struct{}) {
	live := []metrics.Sample{{Name: "/gc/heap/live:bytes"}}
	var peakLive, peakRSS uint64
	t := time.NewTicker(50 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
		}
		metrics.Read(live)
		if v := live[0].Value.Uint64(); v > peakLive {
			peakLive = v
			if f, err := os.Create(path + ".heap"); err == nil {
				_ = pprof.Lookup("heap").WriteTo(f, 0)
				_ = f.Close()
			}
		}
		if v := vmRSS(); v > peakRSS {
			peakRSS = v
			if f, err := os.Create(path + ".mem"); err == nil {
				fmt.Fprintf(f, "VmRSS %d\n", v)
				writeClasses(f)
				_ = f.Close()
			}
		}
	}
}

// vmRSS is this process's resident set in bytes, from /proc/self/status (0 elsewhere).
func vmRSS() uint64 {
	b, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) > 0 {
				n, _ := strconv.ParseUint(f[0], 10, 64)
				return n << 10
			}
		}
	}
	return 0
}

// writeClasses writes every uint64 runtime metric, one "name value" a line.
func writeClasses(w io.Writer) {
	var samples []metrics.Sample
	for _, d := range metrics.All() {
		if d.Kind == metrics.KindUint64 {
			samples = append(samples, metrics.Sample{Name: d.Name})
		}
	}
	metrics.Read(samples)
	for _, s := range samples {
		fmt.Fprintf(w, "%s %d\n", s.Name, s.Value.Uint64())
	}
}

package bench

import (
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// CeilingName labels the ceiling relay's rows.
const CeilingName = "ceiling"

// Row is one client's results in one mode. Durations are in the unit their field name says.
type Row struct {
	Name    string `json:"name"`
	Path    string `json:"path,omitempty"`
	Mode    Mode   `json:"mode"`
	Ceiling bool   `json:"ceiling,omitempty"` // the emulator's ceiling: no plugin process, so no CPU, RSS or start time
	Hop     bool   `json:"hop,omitempty"`     // the ceiling relay behind one forwarder process (HopName); Ceiling is set too
	Runs    int    `json:"runs"`              // repetitions that succeeded; rates and CPU costs are their medians

	UploadMiBps   float64 `json:"upload_mib_per_s"`
	DownloadMiBps float64 `json:"download_mib_per_s"`
	EchoP50us     float64 `json:"echo_p50_us"`
	EchoP99us     float64 `json:"echo_p99_us"`

	UploadCPUPerMiB   float64 `json:"upload_cpu_s_per_mib"`   // child user+system seconds per MiB uploaded
	DownloadCPUPerMiB float64 `json:"download_cpu_s_per_mib"` // the same for the download process
	PeakRSSMiB        float64 `json:"peak_rss_mib"`           // largest VmHWM of the row's processes after a transfer
	ReadyRSSMiB       float64 `json:"ready_rss_mib"`          // largest VmHWM at "Port N opened", before any transfer
	ReadyMs           float64 `json:"ready_ms"`               // median exec → "Port N opened"
	BinaryRSSMiB      float64 `json:"binary_rss_mib"`         // largest resident part of the executable's own mappings after a transfer (smaps)
	AnonRSSMiB        float64 `json:"anon_rss_mib"`           // largest anonymous resident memory after a transfer: heap, stacks, runtime (smaps)

	Session sessionStats `json:"session"` // the emulator's counters, summed over the row's sessions
	Exits   []string     `json:"exits,omitempty"`
	Errors  []string     `json:"errors,omitempty"`
}

// Machine describes where a report was measured.
type Machine struct {
	CPUs      int    `json:"cpus"`
	CPUModel  string `json:"cpu_model"`
	GoVersion string `json:"go_version"`
	OS        string `json:"os"`
	// GCPercent is the garbage collector's target of the ssmbench process, which hosts the emulator, the
	// ceiling relay and the destination servers (not the plugins): [EmulatorGCPercent] unless GOGC is set.
	GCPercent int `json:"gc_percent"`
}

// Report is the whole run.
type Report struct {
	Command  string    `json:"command"`
	Machine  Machine   `json:"machine"`
	Started  time.Time `json:"started"`
	Seconds  float64   `json:"seconds"`
	LoadAvg  [2]string `json:"load_average"` // /proc/loadavg's first three fields at the start and the end
	Size     int64     `json:"size_bytes"`
	Repeat   int       `json:"repeat"`
	Pacing   bool      `json:"agent_pacing"`
	RTTms    float64   `json:"rtt_ms,omitempty"`    // simulated round trip between plugin and emulator (-rtt)
	TLS      bool      `json:"tls,omitempty"`       // https and wss (-tls)
	TLSToo   bool      `json:"tls_too,omitempty"`   // NAME-tls columns over https and wss (-tls-too)
	ProxyToo bool      `json:"proxy_too,omitempty"` // NAME-proxy columns over TLS through tinyproxy (-proxy-too)
	// ProxyConnects is how many CONNECTs to the emulator tinyproxy's log shows at the end of a -proxy-too run.
	ProxyConnects int      `json:"proxy_connects,omitempty"`
	Form          Form     `json:"form"`
	Echoes        int      `json:"echoes"`
	EchoSize      int      `json:"echo_size"`
	Chunk         int      `json:"ceiling_chunk"`
	Modes         []Mode   `json:"modes"`
	Plugins       []Plugin `json:"plugins"`
	Rows          []Row    `json:"rows"`
	Goals         []Goal   `json:"goals,omitempty"`
}

// ThisMachine reads the CPU count and model (from /proc/cpuinfo) and the Go version.
func ThisMachine() Machine {
	m := Machine{CPUs: runtime.NumCPU(), GoVersion: runtime.Version(), OS: runtime.GOOS + "/" + runtime.GOARCH,
		GCPercent: gcPercent()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPUModel = strings.TrimSpace(v)
				break
			}
		}
	}
	return m
}

// loadAverage returns the first three fields of /proc/loadavg, or "".
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

func (r *Report) row(name string, mode Mode) *Row {
	for i := range r.Rows {
		if r.Rows[i].Name == name && r.Rows[i].Mode == mode {
			return &r.Rows[i]
		}
	}
	return nil
}

// metric is one line of a table: how to read it from a row and print it.
type metric struct {
	label  string
	value  func(*Row) float64
	format string
	proc   bool // needs a process (blank for the ceiling)
}

var metrics = []metric{
	{label: "upload MiB/s", value: func(r *Row) float64 { return r.UploadMiBps }, format: "%.2f"},
	{label: "download MiB/s", value: func(r *Row) float64 { return r.DownloadMiBps }, format: "%.2f"},
	{label: "echo p50 µs", value: func(r *Row) float64 { return r.EchoP50us }, format: "%.0f"},
	{label: "echo p99 µs", value: func(r *Row) float64 { return r.EchoP99us }, format: "%.0f"},
	{label: "upload CPU s/MiB", value: func(r *Row) float64 { return r.UploadCPUPerMiB }, format: "%.4f", proc: true},
	{label: "download CPU s/MiB", value: func(r *Row) float64 { return r.DownloadCPUPerMiB }, format: "%.4f", proc: true},
	{label: "peak RSS MiB", value: func(r *Row) float64 { return r.PeakRSSMiB }, format: "%.1f", proc: true},
	{label: "RSS at Port opened MiB", value: func(r *Row) float64 { return r.ReadyRSSMiB }, format: "%.1f", proc: true},
	{label: "  of which binary MiB", value: func(r *Row) float64 { return r.BinaryRSSMiB }, format: "%.1f", proc: true},
	{label: "  of which anonymous MiB", value: func(r *Row) float64 { return r.AnonRSSMiB }, format: "%.1f", proc: true},
	{label: "exec → Port opened ms", value: func(r *Row) float64 { return r.ReadyMs }, format: "%.1f", proc: true},
	{label: "duplicate frames at agent", value: func(r *Row) float64 { return float64(r.Session.DuplicatesAtAgent) }, format: "%.0f"},
	{label: "frames to agent", value: func(r *Row) float64 { return float64(r.Session.FramesToAgent) }, format: "%.0f"},
	{label: "agent resends", value: func(r *Row) float64 { return float64(r.Session.AgentResends) }, format: "%.0f"},
	{label: "largest client message B", value: func(r *Row) float64 { return float64(r.Session.MaxClientMessage) }, format: "%.0f"},
	{label: "pauses (back-pressure)", value: func(r *Row) float64 { return float64(r.Session.BacklogPauses) }, format: "%.0f"},
	{label: "sent while paused", value: func(r *Row) float64 { return float64(r.Session.SentWhilePaused) }, format: "%.0f"},
	{label: "channel_closed (overflow)", value: func(r *Row) float64 { return float64(r.Session.Overflows) }, format: "%.0f"},
	{label: "client resends", value: func(r *Row) float64 { return float64(r.Session.ClientResends) }, format: "%.0f"},
}

// ratio formats a÷b, or "-" when it means nothing.
func ratio(a, b float64) string {
	if b == 0 || math.IsNaN(a) || math.IsNaN(b) {
		return "-"
	}
	q := a / b
	switch {
	case q >= 100:
		return fmt.Sprintf("%.0f×", q)
	case q >= 10:
		return fmt.Sprintf("%.1f×", q)
	}
	return fmt.Sprintf("%.2f×", q)
}

// WriteText prints the report as one table per mode: a column per client, then the baseline's ratio to
// every other plugin, to the ceiling and to the ceiling behind a hop.
func (r *Report) WriteText(w io.Writer) error {
	pacing := "off"
	if r.Pacing {
		pacing = "on (1 KiB per message, 1 ms sleep)"
	}
	fmt.Fprintf(w, "ssmbench: %s per transfer, %d×%d-byte echoes, agent pacing %s, response via %s, %d repetition(s) (medians)\n",
		FormatSize(r.Size), r.Echoes, r.EchoSize, pacing, r.Form, r.Repeat)
	fmt.Fprintf(w, "machine: %d CPUs, %s, %s, %s; ssmbench GOGC %d\n", r.Machine.CPUs, r.Machine.CPUModel, r.Machine.GoVersion,
		r.Machine.OS, r.Machine.GCPercent)
	if r.LoadAvg[0] != "" {
		fmt.Fprintf(w, "load average (1, 5, 15 min): %s at the start, %s at the end; %.0f s\n", r.LoadAvg[0], r.LoadAvg[1], r.Seconds)
	}
	if r.TLS {
		fmt.Fprintf(w, "over TLS: https API, wss data channel (the emulator's CA in AWS_CA_BUNDLE and SSL_CERT_FILE)\n")
	}
	if r.ProxyToo {
		fmt.Fprintf(w, "columns *%s: over TLS through tinyproxy (HTTPS_PROXY: a CONNECT for every data channel and API call of the plugin; %d CONNECTs in its log), measured in turn with the others\n", ProxySuffix, r.ProxyConnects)
	}
	if r.TLSToo {
		fmt.Fprintf(w, "columns *%s: over TLS (https API, wss data channel; the emulator's CA in AWS_CA_BUNDLE and SSL_CERT_FILE), measured in turn with the plain ones\n", TLSSuffix)
	}
	if r.RTTms > 0 {
		fmt.Fprintf(w, "data channel through a delay proxy: %.0f ms round trip\n", r.RTTms)
	}
	if slices.ContainsFunc(r.Rows, func(row Row) bool { return row.Hop }) {
		fmt.Fprintf(w, "column %s: the ceiling relay behind one forwarder process (ssmbench %s, GOMAXPROCS=1 GOGC=25, io.Copy both ways), reached through a loopback port as a plugin's is\n", HopName, hopCommand)
	}
	for _, p := range r.Plugins {
		fmt.Fprintf(w, "plugin %s: %s", p.Name, p.Path)
		if len(p.Env) > 0 {
			fmt.Fprintf(w, " %v", p.Env)
		}
		fmt.Fprintln(w)
	}
	for _, mode := range r.Modes {
		var cols, ceilings []*Row // ceilings: the ceiling and ceiling+hop columns present, each a ratio column
		for _, n := range []string{CeilingName, HopName} {
			if c := r.row(n, mode); c != nil {
				cols = append(cols, c)
				ceilings = append(ceilings, c)
			}
		}
		for _, p := range r.Plugins {
			if row := r.row(p.Name, mode); row != nil {
				cols = append(cols, row)
			}
		}
		if len(cols) == 0 {
			continue
		}
		fmt.Fprintf(w, "\n%s mode (agent %s)\n", mode, agentVersionFor(mode))
		tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
		header := []string{"metric"}
		for _, c := range cols {
			header = append(header, c.Name)
		}
		base := r.baseline(mode)
		var others []*Row
		if base != nil {
			for _, c := range cols {
				if c != base && !c.Ceiling {
					others = append(others, c)
					header = append(header, base.Name+"÷"+c.Name)
				}
			}
			for _, c := range ceilings {
				header = append(header, base.Name+"÷"+c.Name)
			}
		}
		fmt.Fprintln(tw, strings.Join(header, "\t")+"\t")
		for _, m := range metrics {
			line := []string{m.label}
			for _, c := range cols {
				if m.proc && c.Ceiling {
					line = append(line, "-")
					continue
				}
				line = append(line, fmt.Sprintf(m.format, m.value(c)))
			}
			if base != nil {
				for _, o := range others {
					line = append(line, ratio(m.value(base), m.value(o)))
				}
				for _, c := range ceilings {
					if m.proc {
						line = append(line, "-")
					} else {
						line = append(line, ratio(m.value(base), m.value(c)))
					}
				}
			}
			fmt.Fprintln(tw, strings.Join(line, "\t")+"\t")
		}
		if err := tw.Flush(); err != nil {
			return err
		}
		for _, c := range cols {
			for _, e := range c.Errors {
				fmt.Fprintf(w, "error (%s, %s): %s\n", c.Name, mode, e)
			}
		}
	}
	if len(r.Goals) > 0 {
		fmt.Fprintf(w, "\ngoals (issues 6 and 18) for %s:\n", r.Plugins[0].Name)
		for _, g := range r.Goals {
			fmt.Fprintf(w, "  [%s] %s: %s\n", g.status(), g.Goal, g.Measured)
		}
	}
	return nil
}

func agentVersionFor(mode Mode) string {
	if mode == ModeBasic {
		return BasicAgentVersion
	}
	return "ssmtest default"
}

// baseline is the first plugin's row in mode.
func (r *Report) baseline(mode Mode) *Row {
	if len(r.Plugins) == 0 {
		return nil
	}
	return r.row(r.Plugins[0].Name, mode)
}

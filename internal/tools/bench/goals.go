package bench

import "fmt"

// Goal is one of issue 6's or issue 18's goals, checked against a report for the first plugin (the baseline).
type Goal struct {
	Goal     string `json:"goal"`
	Measured string `json:"measured"`
	Status   string `json:"status"` // "met", "not met", or "n/a" when the run lacks what the goal compares with
}

func (g Goal) status() string { return g.Status }

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// Issue 6's thresholds, the upload ones as issue 18 raised them (60× → 100× AWS's plugin, 0.8 → 0.85 of the
// ceiling).
const (
	goalUploadVsOther    = 100.0
	goalUploadVsCeiling  = 0.85
	goalDownloadCeiling  = 0.9
	goalDownloadPacedCap = 0.95
	goalEchoOverUs       = 100.0
	goalCPUPerMiB        = 0.005
	goalRSSMiB           = 12.0
)

// goalEchoOverHopUs is issue 18's echo goal, taken against the ceiling relay behind one forwarder process
// (HopName), whose round trip crosses processes as often as a plugin's.
const goalEchoOverHopUs = 60.0

// OtherName is the name of the plugin the "times the other plugin" goal compares with: AWS's. Without a
// plugin of that name the goal compares with the second plugin, when there is one.
const OtherName = "aws"

// other returns the plugin the baseline's upload is compared with, or "".
func (r *Report) other() string {
	if len(r.Plugins) < 2 {
		return ""
	}
	for _, p := range r.Plugins[1:] {
		if p.Name == OtherName {
			return p.Name
		}
	}
	return r.Plugins[1].Name
}

// CheckGoals evaluates the issue's goals for the baseline plugin in every mode of r. The "times the
// other plugin" goal compares with the plugin named [OtherName], else the second plugin.
func (r *Report) CheckGoals() []Goal {
	var goals []Goal
	if len(r.Plugins) == 0 {
		return nil
	}
	add := func(goal, measured string, ok bool, applicable bool) {
		g := Goal{Goal: goal, Measured: measured, Status: verdict(ok)}
		if !applicable {
			g.Status = "n/a"
		}
		goals = append(goals, g)
	}
	for _, mode := range r.Modes {
		b := r.baseline(mode)
		if b == nil || len(b.Errors) > 0 && b.UploadMiBps == 0 && b.DownloadMiBps == 0 {
			continue
		}
		c := r.row(CeilingName, mode)
		var o *Row
		if name := r.other(); name != "" {
			o = r.row(name, mode)
		}
		m := string(mode)
		if o != nil && o.UploadMiBps > 0 {
			q := b.UploadMiBps / o.UploadMiBps
			add(fmt.Sprintf("%s: upload ≥ %.0f× %s", m, goalUploadVsOther, o.Name),
				fmt.Sprintf("%.1f×  (%.2f vs %.2f MiB/s)", q, b.UploadMiBps, o.UploadMiBps), q >= goalUploadVsOther, true)
		}
		if c != nil && c.UploadMiBps > 0 {
			q := b.UploadMiBps / c.UploadMiBps
			add(fmt.Sprintf("%s: upload ≥ %.2f of the emulator's ceiling", m, goalUploadVsCeiling),
				fmt.Sprintf("%.2f  (%.2f vs %.2f MiB/s)", q, b.UploadMiBps, c.UploadMiBps), q >= goalUploadVsCeiling, true)
		}
		if c != nil && c.DownloadMiBps > 0 {
			q := b.DownloadMiBps / c.DownloadMiBps
			want, what := goalDownloadCeiling, "the emulator's ceiling (agent unpaced)"
			if r.Pacing {
				want, what = goalDownloadPacedCap, "the paced agent's cap (the ceiling relay's rate)"
			}
			add(fmt.Sprintf("%s: download ≥ %.2f of %s", m, want, what),
				fmt.Sprintf("%.2f  (%.2f vs %.2f MiB/s)", q, b.DownloadMiBps, c.DownloadMiBps), q >= want, true)
		}
		if c != nil && c.EchoP50us > 0 {
			d := b.EchoP50us - c.EchoP50us
			add(fmt.Sprintf("%s: echo p50 ≤ ceiling + %.0f µs", m, goalEchoOverUs),
				fmt.Sprintf("+%.0f µs  (%.0f vs %.0f µs)", d, b.EchoP50us, c.EchoP50us), d <= goalEchoOverUs, true)
		}
		if h := r.row(HopName, mode); h != nil && h.EchoP50us > 0 {
			d := b.EchoP50us - h.EchoP50us
			add(fmt.Sprintf("%s: echo p50 ≤ hop ceiling + %.0f µs", m, goalEchoOverHopUs),
				fmt.Sprintf("%+.0f µs  (%.0f vs %.0f µs)", d, b.EchoP50us, h.EchoP50us), d <= goalEchoOverHopUs, true)
		}
		cpu := max(b.UploadCPUPerMiB, b.DownloadCPUPerMiB)
		add(fmt.Sprintf("%s: ≤ %.3f client CPU s/MiB", m, goalCPUPerMiB),
			fmt.Sprintf("upload %.4f, download %.4f", b.UploadCPUPerMiB, b.DownloadCPUPerMiB), cpu <= goalCPUPerMiB, cpu > 0)
		add(fmt.Sprintf("%s: peak RSS ≤ %.0f MiB", m, goalRSSMiB),
			fmt.Sprintf("%.1f MiB", b.PeakRSSMiB), b.PeakRSSMiB <= goalRSSMiB, b.PeakRSSMiB > 0)
		add(fmt.Sprintf("%s: zero duplicate frames on a clean link", m),
			fmt.Sprintf("%d of %d frames", b.Session.DuplicatesAtAgent, b.Session.FramesToAgent), b.Session.DuplicatesAtAgent == 0, true)
	}
	return goals
}

package doctor

import (
	"context"
	"debug/buildinfo"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// PluginName is the program the AWS CLI runs for `aws ssm start-session`.
const PluginName = "session-manager-plugin"

// minPluginVersion is the oldest plugin the service still accepts (signed websocket upgrades,
// docs/protocol.md §3.5 and §9).
const minPluginVersion = "1.2.764.0"

// plugin finds the session-manager-plugin the AWS CLI would run (the first on PATH), says whose it is and
// asks its version.
func (d *run) plugin(ctx context.Context) []Result {
	r := Result{Check: CheckPlugin, Details: map[string]string{}}
	path, err := d.env.lookPath(PluginName)
	if err != nil {
		r.Status = Warn
		r.Message = "no " + PluginName + " on PATH: `aws ssm start-session` and `aws ecs execute-command` will fail (ssmwire itself does not need it)"
		r.Fix = "install ssmwire's package (it provides " + PluginName + "), or put its " + PluginName + " binary on PATH"
		return one(r)
	}
	r.Details["path"] = path
	var whose string
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	if bi, err := buildinfo.ReadFile(real); err == nil {
		switch {
		case strings.HasPrefix(bi.Path, "github.com/ssmwire/ssmwire/"):
			whose = "ssmwire's " + PluginName
		default:
			whose = PluginName + " (" + bi.Path + ")"
		}
	} else {
		whose = "AWS's " + PluginName + " (or another non-Go build)"
	}
	r.Details["whose"] = whose
	vctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
	defer cancel()
	cmd := exec.CommandContext(vctx, path, "--version")
	cmd.Env = d.cfg.Env
	out, err := cmd.Output()
	version := strings.TrimSpace(firstLine(string(out)))
	if err != nil || version == "" {
		r.Status, r.Err = Fail, err
		r.Message = fmt.Sprintf("%s at %s does not run: %v", whose, path, err)
		r.Fix = "reinstall it, or remove it from PATH so that the AWS CLI finds a working one"
		return one(r)
	}
	r.Details["version"] = version
	r.Message = fmt.Sprintf("%s %s at %s", whose, version, path)
	if cmpVersion(version, minPluginVersion) < 0 {
		r.Status = Warn
		r.Message += ": older than " + minPluginVersion + ", the oldest the service accepts"
		r.Fix = "update the plugin, or install ssmwire's"
		return one(r)
	}
	r.Status = Pass
	return one(r)
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// cmpVersion compares dotted decimal versions part by part (a missing part counts as 0); a part that is not a
// number compares as 0.
func cmpVersion(a, b string) int {
	pa, pb := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < max(len(pa), len(pb)); i++ {
		var x, y int
		if i < len(pa) {
			x, _ = strconv.Atoi(pa[i])
		}
		if i < len(pb) {
			y, _ = strconv.Atoi(pb[i])
		}
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

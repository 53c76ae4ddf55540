//go:build e2e

package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestRunProxyToo: with -proxy-too, every plugin is also measured over TLS through tinyproxy, whose log
// shows the CONNECTs to the emulator (every session's data channel; ssmbench itself calls StartSession directly). Needs tinyproxy and
// ssmtest.internal in /etc/hosts, which scripts/test provides.
func TestRunProxyToo(t *testing.T) {
	cfg := testConfig(1 << 20)
	cfg.ProxyToo = true
	cfg.Ceiling = false
	cfg.Modes = []Mode{ModeMux}
	cfg.Plugins = []Plugin{{Name: "ours", Path: ourPlugin(t)}}
	rep, err := Run(context.Background(), cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	if rep.row("ours", ModeMux) == nil || rep.row("ours"+ProxySuffix, ModeMux) == nil {
		t.Fatalf("rows %+v, want ours and ours%s", rep.Rows, ProxySuffix)
	}
	for i := range rep.Rows {
		checkRow(t, &rep.Rows[i])
	}
	// Three transfers, each a session: at least one data-channel CONNECT each.
	if rep.ProxyConnects < 3 {
		t.Errorf("tinyproxy's log shows %d CONNECTs to %s, want one per session at least", rep.ProxyConnects, ProxyHostname)
	}
	var out bytes.Buffer
	if err := rep.WriteText(&out); err != nil || !strings.Contains(out.String(), "ours÷ours-proxy") {
		t.Errorf("text report (%v) lacks the plain÷proxy column:\n%s", err, out.String())
	}
}

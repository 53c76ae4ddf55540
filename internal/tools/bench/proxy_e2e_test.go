//go:build e2e

package bench

import "testing"

// TestRunProxyToo: with -proxy-too, every plugin is also measured over TLS through tinyproxy, whose log
// shows the CONNECTs to the emulator (every session's data channel; ssmbench itself calls StartSession directly). Needs tinyproxy and
// ssmtest.internal in /etc/hosts, which scripts/test provides.
func TestRunProxyToo(t *testing.T) {
	rep := runTwice(t, func(cfg *Config) { cfg.ProxyToo = true }, ProxySuffix)
	// Three transfers, each a session: at least one data-channel CONNECT each.
	if rep.ProxyConnects < 3 {
		t.Errorf("tinyproxy's log shows %d CONNECTs to %s, want one per session at least", rep.ProxyConnects, ProxyHostname)
	}
}

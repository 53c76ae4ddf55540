package bench

import (
	"strings"
	"testing"
)

// TestUploadGoals: the upload goals are issue 18's (100× AWS's plugin, 0.85 of the ceiling), and the "times
// the other plugin" goal compares with the plugin named aws wherever it stands, else the second plugin.
func TestUploadGoals(t *testing.T) {
	rep := &Report{
		Modes:   []Mode{ModeMux},
		Plugins: []Plugin{{Name: "ours", Path: "/x"}, {Name: "optin", Path: "/x"}, {Name: "aws", Path: "/y"}},
		Rows: []Row{
			{Name: CeilingName, Mode: ModeMux, Ceiling: true, UploadMiBps: 100},
			{Name: "ours", Mode: ModeMux, UploadMiBps: 85},
			{Name: "optin", Mode: ModeMux, UploadMiBps: 170},
			{Name: "aws", Mode: ModeMux, UploadMiBps: 0.85},
		},
	}
	goal := func(prefix string) Goal {
		t.Helper()
		for _, g := range rep.CheckGoals() {
			if strings.HasPrefix(g.Goal, prefix) {
				return g
			}
		}
		t.Fatalf("no goal %q in %+v", prefix, rep.CheckGoals())
		return Goal{}
	}
	if g := goal("mux: upload ≥ 100× aws"); g.Status != "met" || !strings.HasPrefix(g.Measured, "100.0×") {
		t.Errorf("100× at exactly 100×: %+v", g)
	}
	if g := goal("mux: upload ≥ 0.85 of the emulator's ceiling"); g.Status != "met" {
		t.Errorf("0.85 at 0.85: %+v", g)
	}
	rep.Rows[1].UploadMiBps = 84
	if g := goal("mux: upload ≥ 100× aws"); g.Status != "not met" {
		t.Errorf("98.8×: %+v", g)
	}
	if g := goal("mux: upload ≥ 0.85 of the emulator's ceiling"); g.Status != "not met" {
		t.Errorf("0.84: %+v", g)
	}

	rep.Plugins = rep.Plugins[:2] // no aws: the second plugin
	if g := goal("mux: upload ≥ 100× optin"); g.Status != "not met" {
		t.Errorf("against optin: %+v", g)
	}
}

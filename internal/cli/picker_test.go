package cli

import (
	"strings"
	"testing"

	tea "github.com/charmbracelet/bubbletea"

	"github.com/ssmwire/ssmwire"
)

func pickerNodes() []ssmwire.Instance {
	return []ssmwire.Instance{
		{ID: "i-0aaaaaaaaaaaaaaa1", Name: "api", PingStatus: "Online", IPAddress: "10.0.3.7"},
		{ID: "i-0aaaaaaaaaaaaaaa2", Name: "batch", PingStatus: "Online", IPAddress: "10.0.3.8"},
		{ID: "mi-0bbbbbbbbbbbbbbb1", Name: "rack", PingStatus: "Online", IPAddress: "192.168.1.4"},
	}
}

func keys(m *pickerModel, msgs ...tea.KeyMsg) {
	for _, k := range msgs {
		m.Update(k)
	}
}

func runes(s string) tea.KeyMsg { return tea.KeyMsg{Type: tea.KeyRunes, Runes: []rune(s)} }

func TestPickerFilters(t *testing.T) {
	m := newPicker("pick", pickerNodes())
	if v := m.View(); !strings.Contains(v, "ID ") || strings.Count(v, "i-0aaaaaaaaaaaaaaa") != 2 || !strings.Contains(v, "3/3") {
		t.Fatalf("view:\n%s", v)
	}
	keys(m, runes("b"), runes("t"), runes("c"))
	if v := m.View(); !strings.Contains(v, "> btc") || !strings.Contains(v, "1/3") || !strings.Contains(v, "▸ i-0aaaaaaaaaaaaaaa2") {
		t.Fatalf("filtered view:\n%s", v)
	}
	keys(m, tea.KeyMsg{Type: tea.KeyBackspace}, tea.KeyMsg{Type: tea.KeyBackspace}, tea.KeyMsg{Type: tea.KeyBackspace})
	keys(m, tea.KeyMsg{Type: tea.KeyDown}, tea.KeyMsg{Type: tea.KeyDown}, tea.KeyMsg{Type: tea.KeyDown}, tea.KeyMsg{Type: tea.KeyUp})
	keys(m, tea.KeyMsg{Type: tea.KeyEnter})
	if !m.done || m.chosen != 1 || m.View() != "" {
		t.Errorf("chosen %d done %v", m.chosen, m.done)
	}

	m = newPicker("pick", pickerNodes())
	keys(m, runes("zzz"), tea.KeyMsg{Type: tea.KeyEnter})
	if m.done {
		t.Errorf("Enter with no match picked %d", m.chosen)
	}
	keys(m, tea.KeyMsg{Type: tea.KeyEsc})
	if !m.done || m.chosen != -1 {
		t.Errorf("Esc: chosen %d done %v", m.chosen, m.done)
	}
}

// TestNoTargetOffTerminal: off a terminal, shell without TARGET is a usage error listing the online nodes.
func TestNoTargetOffTerminal(t *testing.T) {
	h := newHarness(t, ec2Nodes())
	r := h.run(t, nil, "shell")
	if r.code != ExitUsage || !strings.Contains(r.stderr, "shell: want a TARGET; online managed nodes:") ||
		!strings.Contains(r.stderr, "batch ") || !strings.Contains(r.stderr, "ssmwire help shell") {
		t.Errorf("code %d stderr %q", r.code, r.stderr)
	}
	if n := len(h.srv.SessionIDs()); n != 0 {
		t.Errorf("%d sessions", n)
	}
}

package cli

import (
	"strings"
	"testing"
)

// TestHelpTexts: every help text fits 100 columns; each command's help shows its own flags apart from the
// global ones, and real examples.
func TestHelpTexts(t *testing.T) {
	h := newHarness(t, nil)
	texts := map[string]string{"ssmwire help": h.run(t, nil, "help").stdout}
	for _, c := range commands() {
		r := h.run(t, nil, "help", c.name)
		if r.code != 0 {
			t.Fatalf("help %s: code %d", c.name, r.code)
		}
		texts["ssmwire help "+c.name] = r.stdout
		own, global, _ := strings.Cut(r.stdout, "\nGlobal flags")
		if global == "" || strings.Contains(own, "\n  -profile") || strings.Contains(own, "\n  -endpoint-url") {
			t.Errorf("help %s mixes the global flags with its own:\n%s", c.name, r.stdout)
		}
		if !strings.Contains(global, "--profile") || !strings.Contains(global, "--json") {
			t.Errorf("help %s does not name the global flags:\n%s", c.name, r.stdout)
		}
		if n := strings.Count(own, "\n  ssmwire "+c.name) + strings.Count(own, "ProxyCommand='ssmwire "+c.name); n < 2 {
			t.Errorf("help %s has %d examples, want at least 2", c.name, n)
		}
		if c.flags != nil && !strings.Contains(own, "\nFlags:\n") {
			t.Errorf("help %s lists no flags of its own", c.name)
		}
	}
	for name, text := range texts {
		for i, line := range strings.Split(text, "\n") {
			if n := columns(line); n > 100 {
				t.Errorf("%s, line %d: %d columns: %q", name, i+1, n, line)
			}
		}
	}
}

// columns is how wide line is on a terminal, with tabs at every 8th column.
func columns(line string) int {
	n := 0
	for _, r := range line {
		if r == '\t' {
			n += 8 - n%8
			continue
		}
		n++
	}
	return n
}

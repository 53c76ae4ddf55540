package cli

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

func TestFitWidth(t *testing.T) {
	for _, tc := range []struct {
		s    string
		cols int
		want string
	}{
		{"abcdef", 0, "abcdef"},
		{"abcdef", 7, "abcdef"},
		{"abcdef", 6, "abcd…"},
		{"a → b ↑1 ↓2", 6, "a → …"},
		{"abcdef", 2, "…"},
		{"abcdef", 1, ""},
	} {
		if got := fitWidth(tc.s, tc.cols); got != tc.want {
			t.Errorf("fitWidth(%q, %d) = %q, want %q", tc.s, tc.cols, got, tc.want)
		}
	}
}

// TestStatusLinesFitTheTerminal: every status line is cut to the width the terminal has at each redraw, so
// none wraps and the redraw moves up over exactly the lines it drew.
func TestStatusLinesFitTheTerminal(t *testing.T) {
	fw, err := ParseForward("5432:db.internal:5432")
	if err != nil {
		t.Fatal(err)
	}
	k := &keeper{tunnel: "staging-db", fw: fw, target: "i-0123456789abcdef0"}
	full := statusLine(k)
	if utf8.RuneCountInString(full) < 90 {
		t.Fatalf("status line %q is short; the test wants one longer than 60 columns", full)
	}
	cols := 60
	var out testkit.Buffer
	r := &reporter{mode: reportTerminal, out: &out, errw: &out, now: time.Now, width: func() int { return cols }}
	r.add(k)
	r.mu.Lock()
	r.drawLocked()
	r.mu.Unlock()
	cols = 200 // the terminal grew
	r.emit(event{Event: evSessionStarted, SessionID: "s-1"}, k)
	lines := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	if len(lines) != 3 {
		t.Fatalf("output %q", out.String())
	}
	if got := lines[0]; utf8.RuneCountInString(got) != 59 || !strings.HasSuffix(got, "…") || !strings.HasPrefix(full, strings.TrimSuffix(got, "…")) {
		t.Errorf("at 60 columns: %q", got)
	}
	if got := lines[2]; got != full {
		t.Errorf("at 200 columns: %q, want %q", got, full)
	}
	if !strings.HasPrefix(lines[1], "\x1b[1A\x1b[J") {
		t.Errorf("redraw %q does not move up one line", lines[1])
	}
}

func TestRowsAfterResize(t *testing.T) {
	w := func(n int) func() int { return func() int { return n } }
	for _, tc := range []struct {
		widths []int
		drawn  int
		width  func() int
		want   int
	}{
		{[]int{110, 59}, 2, w(200), 2},
		{[]int{110, 59}, 2, w(60), 3},
		{[]int{110, 0}, 2, w(50), 4},
		{[]int{110}, 1, nil, 1},
		{nil, 3, w(60), 3},
	} {
		if got := rowsAfterResize(tc.widths, tc.drawn, tc.width); got != tc.want {
			t.Errorf("rowsAfterResize(%v, %d) = %d, want %d", tc.widths, tc.drawn, got, tc.want)
		}
	}
}

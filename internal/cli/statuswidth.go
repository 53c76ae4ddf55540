package cli

import (
	"os"
	"os/signal"
	"unicode/utf8"

	"golang.org/x/term"
)

// The status lines of a terminal are cut to its width, so that a line never wraps: the redraw moves up
// exactly the lines it drew. The width is read at every redraw, and a resize redraws at once.

// terminalWidth returns a func reporting the width of w's terminal in columns, 0 when unknown.
func terminalWidth(w any) func() int {
	f, ok := w.(*os.File)
	if !ok {
		return func() int { return 0 }
	}
	return func() int {
		cols, _, err := term.GetSize(int(f.Fd()))
		if err != nil {
			return 0
		}
		return cols
	}
}

// fitWidth cuts s to fewer than cols runes (the last column stays free: a character written there leaves
// some terminals waiting to wrap), ending a cut line with "…"; cols <= 0 leaves s as it is. The status
// lines hold only single-width characters.
func fitWidth(s string, cols int) string {
	if cols <= 0 || utf8.RuneCountInString(s) < cols {
		return s
	}
	max := cols - 1
	if max < 1 {
		return ""
	}
	n := 0
	for i := range s {
		if n == max-1 {
			return s[:i] + "…"
		}
		n++
	}
	return s
}

// resizeSignal notifies c of terminal resizes (SIGWINCH where there is one); stop undoes it.
func resizeSignal(c chan<- os.Signal) (stop func()) {
	if sigWinch == nil {
		return func() {}
	}
	signal.Notify(c, sigWinch)
	return func() { signal.Stop(c) }
}

// rowsAfterResize is how many rows the drawn status lines take now: a terminal that got narrower reflows a
// line drawn for the old width onto several rows (tmux, VTE, iTerm2, Windows Terminal do), and the redraw
// must move up over all of them. Without widths it is drawn, one row per line.
func rowsAfterResize(widths []int, drawn int, width func() int) int {
	cols := 0
	if width != nil {
		cols = width()
	}
	if cols <= 0 || len(widths) != drawn {
		return drawn
	}
	rows := 0
	for _, w := range widths {
		rows += max(1, (w+cols-1)/cols)
	}
	return rows
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	tea "github.com/charmbracelet/bubbletea"
	"github.com/sahilm/fuzzy"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/shell"
)

// The picker: on a terminal, a command without TARGET, or with one that several nodes match, asks which
// node. It is a bubbletea program (the Elm architecture: Update takes keys, View draws), drawn inline on
// standard error so that standard output stays the command's; typing filters the rows fuzzily (sahilm/fuzzy,
// the matcher of bubbles' list), the arrows move, Enter picks, Esc or Ctrl-C gives up.

// errPickCancelled: the user left the picker without choosing.
var errPickCancelled = errors.New("no node picked")

// pickerRows is how many rows the picker shows at once.
const pickerRows = 10

// pickerModel is the picker's state.
type pickerModel struct {
	title   string
	rows    []string // one formatted row per node, aligned
	header  string
	query   string
	matches []int // indexes into rows, best first
	cursor  int   // index into matches
	chosen  int   // index into rows; -1 until Enter
	done    bool
}

func newPicker(title string, nodes []ssmwire.Instance) *pickerModel {
	table := strings.Split(strings.TrimRight(nodeTable(nodes), "\n"), "\n")
	m := &pickerModel{title: title, header: table[0], rows: table[1:], chosen: -1}
	m.filter()
	return m
}

func (m *pickerModel) Init() tea.Cmd { return nil }

// filter recomputes the matches of the query.
func (m *pickerModel) filter() {
	m.matches = m.matches[:0]
	if m.query == "" {
		for i := range m.rows {
			m.matches = append(m.matches, i)
		}
	} else {
		for _, f := range fuzzy.Find(m.query, m.rows) {
			m.matches = append(m.matches, f.Index)
		}
	}
	m.cursor = min(m.cursor, max(0, len(m.matches)-1))
}

func (m *pickerModel) Update(msg tea.Msg) (tea.Model, tea.Cmd) {
	k, ok := msg.(tea.KeyMsg)
	if !ok {
		return m, nil
	}
	switch k.Type {
	case tea.KeyCtrlC, tea.KeyEsc:
		m.done = true
		return m, tea.Quit
	case tea.KeyEnter:
		if len(m.matches) == 0 {
			return m, nil
		}
		m.chosen, m.done = m.matches[m.cursor], true
		return m, tea.Quit
	case tea.KeyUp, tea.KeyCtrlP:
		m.cursor = max(0, m.cursor-1)
	case tea.KeyDown, tea.KeyCtrlN, tea.KeyTab:
		m.cursor = min(max(0, len(m.matches)-1), m.cursor+1)
	case tea.KeyBackspace:
		if r := []rune(m.query); len(r) > 0 {
			m.query = string(r[:len(r)-1])
			m.filter()
		}
	case tea.KeyCtrlU:
		m.query = ""
		m.filter()
	case tea.KeyRunes, tea.KeySpace:
		m.query += string(k.Runes)
		m.filter()
	}
	return m, nil
}

func (m *pickerModel) View() string {
	if m.done {
		return ""
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%s (type to filter, ↑/↓ to move, Enter to pick, Esc to cancel)\n", m.title)
	fmt.Fprintf(&b, "> %s\n", m.query)
	fmt.Fprintf(&b, "  %s\n", m.header)
	first := max(0, m.cursor-pickerRows+1)
	for i := first; i < len(m.matches) && i < first+pickerRows; i++ {
		mark := "  "
		if i == m.cursor {
			mark = "▸ "
		}
		b.WriteString(mark + m.rows[m.matches[i]] + "\n")
	}
	fmt.Fprintf(&b, "  %d/%d\n", len(m.matches), len(m.rows))
	return b.String()
}

// choose picks one of nodes with the picker when standard input and standard error are a terminal;
// errNoTerminal otherwise, and errPickCancelled when the user leaves without choosing.
func (a *app) choose(ctx context.Context, nodes []ssmwire.Instance, prompt string) (ssmwire.Instance, error) {
	if !shell.IsTerminal(a.stdin) || !shell.IsTerminal(a.stderr) {
		return ssmwire.Instance{}, errNoTerminal
	}
	return pick(ctx, a.stdin, a.stderr, prompt, nodes)
}

// pick runs the picker on in and out (a terminal).
func pick(ctx context.Context, in io.Reader, out io.Writer, prompt string, nodes []ssmwire.Instance) (ssmwire.Instance, error) {
	m := newPicker(prompt, nodes)
	p := tea.NewProgram(m, tea.WithContext(ctx), tea.WithInput(in), tea.WithOutput(out), tea.WithoutSignalHandler())
	if _, err := p.Run(); err != nil {
		if ctx.Err() != nil {
			return ssmwire.Instance{}, ctx.Err()
		}
		return ssmwire.Instance{}, fmt.Errorf("picker: %w", err)
	}
	if m.chosen < 0 {
		return ssmwire.Instance{}, errPickCancelled
	}
	return nodes[m.chosen], nil
}

package agent

import (
	"slices"
	"testing"
)

func TestSplitCommand(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []string
		err  error
	}{
		{"", []string{}, nil},
		{"   \t\r\n ", []string{}, nil},
		{"echo hello", []string{"echo", "hello"}, nil},
		{"  echo   a\tb\nc  ", []string{"echo", "a", "b", "c"}, nil},
		{"echo a; exit 3", []string{"echo", "a;", "exit", "3"}, nil},
		{"echo $HOME | cat > f && x", []string{"echo", "$HOME", "|", "cat", ">", "f", "&&", "x"}, nil},
		{`sh -c 'echo a; exit 3'`, []string{"sh", "-c", "echo a; exit 3"}, nil},
		{`'it'\''s'`, []string{"it's"}, nil},
		{`"a b" 'c d'`, []string{"a b", "c d"}, nil},
		{`a'b'"c"d`, []string{"abcd"}, nil},
		{`"" ''`, []string{"", ""}, nil},
		{`"\a\"\\\$"`, []string{`a"\$`}, nil}, // a backslash in "…" always escapes
		{`'\a\'`, []string{`\a\`}, nil},
		{`a\ b \'c`, []string{"a b", "'c"}, nil},
		{"a\\\nb", []string{"a\nb"}, nil},
		{"# only a comment", []string{}, nil},
		{"a # comment\nb", []string{"a", "b"}, nil},
		{"a#b", []string{"a#b"}, nil},
		{"a \"#b\"", []string{"a", "#b"}, nil},
		{"héllo wörld", []string{"héllo", "wörld"}, nil},
		{"a\xffb", []string{"a\uFFFDb"}, nil},
		{`a "b`, []string{"a"}, errShlexQuoteEOF},
		{`a 'b`, []string{"a"}, errShlexQuoteEOF},
		{`a b\`, []string{"a"}, errShlexEscapeEOF},
		{`"a\`, []string{}, errShlexEscapeEOF},
	} {
		got, err := splitCommand(tc.in)
		if err != tc.err || !slices.Equal(got, tc.want) {
			t.Errorf("splitCommand(%q) = %q, %v; want %q, %v", tc.in, got, err, tc.want, tc.err)
		}
	}
}

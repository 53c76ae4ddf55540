package cli

import (
	"flag"
	"fmt"
	"strings"
)

// unknownCommand is the usage error for a command name that is not one, with the closest command.
func unknownCommand(name string) error {
	names := append([]string{"help", "version"}, commandNames()...)
	if s := closest(name, names); s != "" {
		return usagef("unknown command %q; did you mean %q?", name, s)
	}
	return usagef("unknown command %q", name)
}

// flagError rewords the flag package's "flag provided but not defined: -x" with the closest flag of fs.
func flagError(fs *flag.FlagSet, err error) string {
	msg := err.Error()
	name, ok := strings.CutPrefix(msg, "flag provided but not defined: ")
	if !ok {
		return msg
	}
	name = strings.TrimLeft(name, "-")
	var names []string
	fs.VisitAll(func(f *flag.Flag) { names = append(names, f.Name) })
	if s := closest(name, names); s != "" {
		return fmt.Sprintf("unknown flag --%s; did you mean --%s?", name, s)
	}
	return fmt.Sprintf("unknown flag --%s", name)
}

// closest returns the candidate nearest to word when it is near enough to be what was meant: a prefix of
// it, or a few edits away (a third of the word's length, at least one); "" otherwise.
func closest(word string, candidates []string) string {
	best, bestD := "", -1
	for _, c := range candidates {
		d := editDistance(word, c)
		if len(word) >= 2 && strings.HasPrefix(c, word) {
			d = 1
		}
		if bestD < 0 || d < bestD {
			best, bestD = c, d
		}
	}
	if bestD < 0 || bestD > max(1, len(word)/3) {
		return ""
	}
	return best
}

// editDistance is the Levenshtein distance between a and b, with a transposition counted as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev2 := make([]int, len(rb)+1)
	prev := make([]int, len(rb)+1)
	cur := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				cur[j] = min(cur[j], prev2[j-2]+1)
			}
		}
		prev2, prev, cur = prev, cur, prev2
	}
	return prev[len(rb)]
}

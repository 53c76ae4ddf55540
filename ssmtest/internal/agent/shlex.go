package agent

import (
	"errors"
	"strings"
	"unicode/utf8"
)

// Errors of splitCommand, worded as the agent's splitter words them (they reach the client in the agent's
// "Failed to parse commands input" message).
var (
	errShlexEscapeEOF = errors.New("EOF found after escape character")
	errShlexQuoteEOF  = errors.New("EOF found when expecting closing quote")
)

// splitCommand splits a command line into words the way the agent does before it executes
// NonInteractiveCommands (and, in container mode, every command) without a shell: the github.com/google/shlex
// rules, not a POSIX shell's.
//
//   - Words are separated by space, tab, CR and LF.
//   - A backslash outside quotes takes the next character literally (a newline too).
//   - '…' takes everything literally up to the next single quote.
//   - "…" takes everything literally except that a backslash takes the next character literally, whatever it
//     is (in a POSIX shell "\a" keeps its backslash; here it does not).
//   - '#' at the start of a word begins a comment that runs to the next LF; inside a word it is literal.
//   - Quotes may join parts of a word (a'b'"c" is abc); "" alone is an empty word.
//   - No variables, globs, operators (; | && > …) or other expansions: they are ordinary characters.
//   - Invalid UTF-8 bytes become U+FFFD.
//
// An unterminated quote or a trailing backslash is an error; the words before it are returned with it.
func splitCommand(s string) ([]string, error) {
	const (
		start = iota
		word
		escape       // after \ outside quotes
		double       // inside "…"
		doubleEscape // after \ inside "…"
		single       // inside '…'
		comment
	)
	words := []string{}
	var cur strings.Builder
	state := start
	for len(s) > 0 {
		r, n := utf8.DecodeRuneInString(s)
		s = s[n:]
		switch state {
		case start:
			switch r {
			case ' ', '\t', '\r', '\n':
			case '"':
				state = double
			case '\'':
				state = single
			case '\\':
				state = escape
			case '#':
				state = comment
			default:
				cur.WriteRune(r)
				state = word
			}
		case word:
			switch r {
			case ' ', '\t', '\r', '\n':
				words = append(words, cur.String())
				cur.Reset()
				state = start
			case '"':
				state = double
			case '\'':
				state = single
			case '\\':
				state = escape
			default:
				cur.WriteRune(r)
			}
		case escape:
			cur.WriteRune(r)
			state = word
		case double:
			switch r {
			case '"':
				state = word
			case '\\':
				state = doubleEscape
			default:
				cur.WriteRune(r)
			}
		case doubleEscape:
			cur.WriteRune(r)
			state = double
		case single:
			if r == '\'' {
				state = word
			} else {
				cur.WriteRune(r)
			}
		case comment:
			if r == '\n' {
				state = start
			}
		}
	}
	switch state {
	case word:
		words = append(words, cur.String())
	case escape, doubleEscape:
		return words, errShlexEscapeEOF
	case double, single:
		return words, errShlexQuoteEOF
	}
	return words, nil
}

package ssmwire

import "strings"

// ShellCommand returns the command line that makes the agent run command with "sh -c", so that command
// means what it means to a POSIX shell (as with ssh): "echo a; exit 3" prints "a" and exits 3.
//
// The agent runs no shell for NonInteractiveCommands sessions, nor, inside an ECS task, for any command: it
// splits the command line into words (with the rules of github.com/google/shlex: blanks separate words,
// '…' is literal, "…" and \ escape, a word starting with # begins a comment) and executes the first word.
// ShellCommand quotes command so that this split yields exactly ["sh", "-c", command]; where the agent does
// run sh -c <commands> itself (InteractiveCommands on an instance) the result is the same.
//
// Windows instances are different: the agent hands the words to PowerShell, which runs command as it is, so
// commands for Windows targets must not be wrapped (see Command.Raw).
func ShellCommand(command string) string { return "sh -c " + shellQuote(command) }

// shellQuote quotes s as one word for both the agent's shlex split and a POSIX shell: in single quotes,
// with each ' written as '\” (close, escaped quote, reopen).
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

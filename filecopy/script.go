package filecopy

import (
	"fmt"
	"strings"
)

// The remote side of file copies: POSIX sh scripts using only coreutils, each run as one command (through
// ShellCommand, since NonInteractiveCommands runs no shell). They talk back in lines "TOKEN WORD ...", where
// TOKEN is the copy's random token: "TOKEN ERR KIND MESSAGE" (KIND is a key of remoteKinds), and the
// script-specific lines below. Everything a tool says on standard error is captured or discarded, because
// without a document with separate output streams it would land in standard output.

// scriptPrelude changes to the home directory (relative paths are relative to it, as with scp), defines
// fail, which removes the temporary file $t if there is one, then reports an error
// line (newlines flattened) and exits, and turns off pathname expansion. The file goes first: the client
// ends the session as soon as it reads the line.
func scriptPrelude(token string) string {
	return `set -f
cd 2>/dev/null
t=
fail() { m=$(printf '%s' "$*" | tr '\r\n' '  '); [ -z "$t" ] || rm -f -- "$t"; printf '%s ERR %s\n' ` + token + ` "$m"; exit 1; }
`
}

// checkReadable fails unless $f is a readable regular file. The open itself is tried: root passes every
// test -r, yet some files refuse it.
const checkReadable = `[ -e "$f" ] || fail notfound "$f: No such file or directory"
[ -d "$f" ] && fail isdir "$f: Is a directory"
[ -f "$f" ] || fail notreg "$f: not a regular file"
( : <"$f" ) 2>/dev/null || fail perm "$f: Permission denied"
`

// statScript prints "TOKEN STAT SIZE MODE SHA256" for the remote file path.
func statScript(token, path string) string {
	return scriptPrelude(token) + "f=" + shellQuote(path) + "\n" + checkReadable +
		`n=$(wc -c <"$f") || fail tool "wc failed"
set -- $n
m=$(stat -c %a "$f" 2>/dev/null) || m=644
s=$(sha256sum <"$f" 2>&1) || fail tool "sha256sum: $s"
printf '%s STAT %s %s %s\n' ` + token + ` "$1" "$m" "${s%% *}"
`
}

// rangeScript prints the length bytes of path from offset off in base64, then "TOKEN SUM SHA256" of those
// bytes, read a second time. A file that changed in between shows up as a mismatch.
func rangeScript(token, path string, off, length int64) string {
	read := fmt.Sprintf(`tail -c +%d "$f" 2>/dev/null | head -c %d 2>/dev/null`, off+1, length)
	return scriptPrelude(token) + "f=" + shellQuote(path) + "\n" + checkReadable +
		read + ` | base64 || fail tool "base64 failed"
s=$(` + read + ` | sha256sum 2>&1) || fail tool "sha256sum: $s"
printf '%s SUM %s\n' ` + token + ` "${s%% *}"
`
}

// uploadScript receives size bytes on its terminal into a temporary file next to dest and renames it over
// dest when their SHA-256 is sum: dest may be a directory, where the file is called name. It prints "TOKEN
// READY" once the terminal is raw, then reads exactly size bytes, then "TOKEN OK SHA256". mode (octal) is
// the file's mode before the remote umask.
//
// With resume it goes on from what the temporary file of an earlier (lost) session with the same token
// holds ("TOKEN READY K"), or, when that session got as far as the rename, only confirms the destination.
// Without it the temporary file is new ("TOKEN READY 0").
func uploadScript(token, dest, name string, size int64, sum string, mode uint32, resume bool) string {
	var b strings.Builder
	b.WriteString(scriptPrelude(token))
	fmt.Fprintf(&b, "d=%s; n=%d; s=%s\n", shellQuote(dest), size, sum)
	b.WriteString(`[ -d "$d" ] && d="${d%/}/"` + shellQuote(name) + `
case "$d" in */*) p="${d%/*}";; *) p=.;; esac
[ -n "$p" ] || p=/
b="${d##*/}"
[ -n "$b" ] || fail notfound "$d: No such file or directory"
[ -d "$p" ] || fail notfound "$p: No such file or directory"
[ -d "$d" ] && fail isdir "$d: Is a directory"
if [ -e "$d" ]; then ( : >>"$d" ) 2>/dev/null || fail perm "$d: Permission denied"; fi
t="$p/.$b.ssmwire-` + token + `"
`)
	if resume {
		b.WriteString(`if [ ! -f "$t" ]; then
  r=$(sha256sum <"$d" 2>/dev/null)
  [ "${r%% *}" = "$s" ] && { printf '%s OK %s\n' ` + token + ` "$s"; exit 0; }
fi
`)
	}
	b.WriteString(`k=0
if [ -f "$t" ]; then k=$(wc -c <"$t") || fail tool "wc failed"; set -- $k; k=$1; fi
[ "$k" -le "$n" ] || k=0
trap 'rm -f -- "$t"' EXIT
trap 'exit 1' HUP INT TERM PIPE
if [ "$k" -eq 0 ]; then ( umask 077; : >"$t" ) 2>/dev/null || { t=; fail perm "$p: Permission denied"; }; fi
stty raw -echo -iexten 2>/dev/null || fail tool "stty cannot make the terminal raw"
printf '%s READY %s\n' ` + token + ` "$k"
e=$(head -c $((n-k)) 2>&1 >>"$t") || fail write "${e:-head failed}"
r=$(sha256sum <"$t" 2>&1) || fail tool "sha256sum: $r"
r="${r%% *}"
[ "$r" = "$s" ] || fail sum "remote SHA-256 $r"
`)
	fmt.Fprintf(&b, "chmod \"$(printf %%o $(( 0%o & ~0$(umask) )))\" \"$t\" 2>/dev/null\n", mode&0o7777)
	b.WriteString(`e=$(mv -f -- "$t" "$d" 2>&1) || fail write "$e"
trap - EXIT
printf '%s OK %s\n' ` + token + ` "$r"
`)
	return b.String()
}

// cleanupScript removes a temporary file an upload may have left when its session was lost.
func cleanupScript(token, dest, name string) string {
	return `cd 2>/dev/null
d=` + shellQuote(dest) + `
[ -d "$d" ] && d="${d%/}/"` + shellQuote(name) + `
case "$d" in */*) p="${d%/*}";; *) p=.;; esac
[ -n "$p" ] || p=/
b="${d##*/}"
rm -f -- "$p/.$b.ssmwire-` + token + `"
`
}

// remotePath turns scp's "~" and "~/..." into paths relative to the home directory, where the scripts run.
func remotePath(p string) string {
	switch {
	case p == "~":
		return "."
	case strings.HasPrefix(p, "~/"):
		if p = strings.TrimLeft(p[2:], "/"); p == "" {
			return "."
		}
	}
	return p
}

// shellQuote quotes s as one word for a POSIX shell: in single quotes, each quote written as quote, backslash, quote, quote.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

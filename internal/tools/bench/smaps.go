package bench

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// rssParts splits a process's resident memory, as /proc/PID/smaps counts it, into the pages of its own
// executable (code, read-only data and initialised data mapped from the file) and anonymous memory (for a
// Go program: the heap, goroutine stacks and the runtime's own structures; a static Go binary has no other
// anonymous mappings than its [stack]). Other is the rest: shared libraries, the vdso, other files.
type rssParts struct {
	Binary, Anon, Other int64 // bytes
}

// readRSSParts reads /proc/PID/smaps; zero when it cannot be read.
func readRSSParts(pid int) rssParts {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return rssParts{}
	}
	exe, _ := os.Readlink(fmt.Sprintf("/proc/%d/exe", pid))
	return parseSmaps(b, exe)
}

// parseSmaps sums the Rss and Anonymous lines of a smaps file per kind of mapping. Anonymous pages of a
// file mapping (the written part of the binary's data segment) count as anonymous.
func parseSmaps(smaps []byte, exe string) rssParts {
	var p rssParts
	var isExe bool
	sc := bufio.NewScanner(bytes.NewReader(smaps))
	for sc.Scan() {
		line := sc.Text()
		f := strings.Fields(line)
		if len(f) == 0 {
			continue
		}
		if !strings.HasSuffix(f[0], ":") { // a mapping's header: range perms offset dev inode [path]
			isExe = len(f) >= 6 && exe != "" && strings.Join(f[5:], " ") == exe
			continue
		}
		if len(f) < 2 {
			continue
		}
		n, err := strconv.ParseInt(f[1], 10, 64)
		if err != nil {
			continue
		}
		n <<= 10 // kB
		switch f[0] {
		case "Rss:":
			if isExe {
				p.Binary += n
			} else {
				p.Other += n
			}
		case "Anonymous:":
			p.Anon += n
			if isExe {
				p.Binary -= n
			} else {
				p.Other -= n
			}
		}
	}
	return p
}

package cli

import (
	"bufio"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/ssmwire/ssmwire"
)

// targetsCachePath is the file `ssmwire targets` writes and TAB completion reads: the user cache directory
// (as [os.UserCacheDir] finds it, from env) + ssmwire/targets.
func targetsCachePath(env Env) string {
	return filepath.Join(userCacheDir(env), "ssmwire", "targets")
}

// userCacheDir is [os.UserCacheDir] reading env instead of the process environment; "" (the working
// directory) when env names no home.
func userCacheDir(env Env) string {
	switch runtime.GOOS {
	case "windows":
		return env.Get("LocalAppData")
	case "darwin", "ios":
		if h := env.Get("HOME"); h != "" {
			return filepath.Join(h, "Library", "Caches")
		}
		return ""
	}
	if d := env.Get("XDG_CACHE_HOME"); d != "" && filepath.IsAbs(d) {
		return d
	}
	if h := env.Get("HOME"); h != "" {
		return filepath.Join(h, ".cache")
	}
	return ""
}

// writeTargets replaces the cache at path with the ids and Name tags of insts, one "ID<TAB>NAME" line each.
// The file is written beside and renamed into place, so a TAB pressed meanwhile reads the old or the new list.
func writeTargets(path string, insts []ssmwire.Instance) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return fmt.Errorf("targets cache: %w", err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".targets-*")
	if err != nil {
		return fmt.Errorf("targets cache: %w", err)
	}
	defer os.Remove(tmp.Name())
	w := bufio.NewWriter(tmp)
	for _, in := range insts {
		// Tabs and line ends in a Name tag would break the format; such names are left out, ids never are.
		name := in.Name
		if strings.ContainsAny(name, "\t\r\n") {
			name = ""
		}
		fmt.Fprintf(w, "%s\t%s\n", in.ID, name)
	}
	if err := w.Flush(); err != nil {
		tmp.Close()
		return fmt.Errorf("targets cache: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("targets cache: %w", err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("targets cache: %w", err)
	}
	return nil
}

// readTargets returns the ids and the Name tags in the cache at path; none when there is no cache.
func readTargets(path string) []string {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil
	}
	var out []string
	for line := range strings.Lines(string(b)) {
		id, name, _ := strings.Cut(strings.TrimRight(line, "\r\n"), "\t")
		if id != "" {
			out = append(out, id)
		}
		if name != "" {
			out = append(out, name)
		}
	}
	return out
}

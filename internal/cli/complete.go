package cli

import (
	"bufio"
	"flag"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
)

// completeCommand is the hidden command the completion scripts run on TAB:
//
//	ssmwire __complete WORD... CURRENT
//
// The words are the command line after "ssmwire" up to the cursor, the last one being the word under
// completion (possibly empty). It prints one candidate per line, the ones starting with CURRENT. It reads only
// local files (the configuration file, the targets cache, the AWS config files) and never calls AWS, so TAB
// never waits on the network. Commands and flags come from the command table, so the scripts cannot drift
// from the CLI.
const completeCommand = "__complete"

// shells are the shells `ssmwire completion` writes scripts for.
var shells = []string{"bash", "zsh", "fish", "powershell"}

// runComplete prints the candidates for words; see [completeCommand].
func (a *app) runComplete(words []string) error {
	if len(words) == 0 {
		words = []string{""}
	}
	w := bufio.NewWriter(a.stdout)
	for _, c := range a.complete(words) {
		w.WriteString(c)
		w.WriteByte('\n')
	}
	return w.Flush()
}

// completion is what the words before the cursor say about the command line.
type completion struct {
	cmd       *command      // nil before the command name
	builtin   string        // "help" or "version" when that is the command
	pos       []string      // positional arguments of the command
	flags     *flag.FlagSet // the flags accepted at this point
	valueFor  *flag.Flag    // the flag whose value the current word is, if any
	config    string        // --config, if given
	afterDash bool          // "--" seen: everything is positional
	globals   globals       // receives the flags' values; only config is read
	opts      cmdOptions    // receives the command's flags' values
}

// flagSetFor returns the flags accepted with c (the globals only when c is nil), parsing into comp.
func (comp *completion) flagSetFor(c *command) *flag.FlagSet {
	fs := flag.NewFlagSet("ssmwire", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	comp.globals.register(fs)
	if c == nil {
		fs.Bool("version", false, "")
	} else if c.flags != nil {
		c.flags(fs, &comp.opts)
	}
	return fs
}

// isBool reports whether f takes no value.
func isBool(f *flag.Flag) bool {
	b, ok := f.Value.(interface{ IsBoolFlag() bool })
	return ok && b.IsBoolFlag()
}

// scan reads the words before the one under completion.
func scan(words []string) *completion {
	comp := &completion{}
	comp.flags = comp.flagSetFor(nil)
	for _, w := range words {
		if comp.valueFor != nil {
			if comp.valueFor.Name == "config" {
				comp.config = w
			}
			comp.valueFor = nil
			continue
		}
		if !comp.afterDash && w == "--" {
			comp.afterDash = true
			continue
		}
		if !comp.afterDash && len(w) > 1 && w[0] == '-' {
			name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
			f := comp.flags.Lookup(name)
			switch {
			case f == nil || isBool(f):
			case hasValue:
				if name == "config" {
					comp.config = value
				}
			default:
				comp.valueFor = f
			}
			continue
		}
		if comp.cmd == nil && comp.builtin == "" {
			if w == "help" || w == "version" {
				comp.builtin = w
				continue
			}
			for _, c := range commands() {
				if c.name == w {
					comp.cmd = c
				}
			}
			if comp.cmd == nil {
				comp.builtin = "unknown"
				continue
			}
			comp.flags = comp.flagSetFor(comp.cmd)
			continue
		}
		comp.pos = append(comp.pos, w)
		if comp.cmd != nil && comp.cmd.stopAt > 0 && len(comp.pos) >= comp.cmd.stopAt {
			comp.afterDash = true
		}
	}
	return comp
}

// complete returns the sorted candidates for the last of words.
func (a *app) complete(words []string) []string {
	cur := words[len(words)-1]
	comp := scan(words[:len(words)-1])
	var cands []string
	switch {
	case comp.valueFor != nil:
		cands = a.flagValues(comp.valueFor.Name)
	case !comp.afterDash && strings.HasPrefix(cur, "-") && strings.Contains(cur, "="):
		name, _, _ := strings.Cut(strings.TrimLeft(cur, "-"), "=")
		prefix := cur[:strings.Index(cur, "=")+1]
		for _, v := range a.flagValues(name) {
			cands = append(cands, prefix+v)
		}
	case !comp.afterDash && strings.HasPrefix(cur, "-"):
		comp.flags.VisitAll(func(f *flag.Flag) { cands = append(cands, "--"+f.Name) })
		cands = append(cands, "--help")
	case comp.builtin == "help":
		if len(comp.pos) == 0 {
			cands = commandNames()
		}
	case comp.builtin != "":
	case comp.cmd == nil:
		cands = append(commandNames(), "help", "version")
	case comp.afterDash:
		// A remote command (exec, run) or arguments after "--": nothing we know.
	default:
		cands = a.positional(comp, cur)
	}
	out := cands[:0]
	for _, c := range cands {
		if strings.HasPrefix(c, cur) && !slices.Contains(out, c) {
			out = append(out, c)
		}
	}
	slices.Sort(out)
	return out
}

// commandNames lists the commands of the command table.
func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

// synopsisKinds returns the positional words of a command's synopsis (command.args), leaving out the
// bracketed groups of flags it may show ("[--]", "[--send-key[=PUBKEY] --user USER]").
func synopsisKinds(args string) []string {
	var kinds []string
	depth := 0 // brackets open in a group of flags
	for _, w := range strings.Fields(args) {
		if depth > 0 || strings.HasPrefix(w, "[-") {
			depth += strings.Count(w, "[") - strings.Count(w, "]")
			continue
		}
		kinds = append(kinds, w)
	}
	return kinds
}

// positional completes the next positional argument of comp.cmd from its synopsis: TARGET (also
// [USER@]TARGET) is a target from the cache, NAME and TUNNEL a tunnel of the configuration file, SHELL a
// shell; anything else (SPEC, PORT, COMMAND, SSH-ARGS) has no candidates.
func (a *app) positional(comp *completion, cur string) []string {
	kinds := synopsisKinds(comp.cmd.args)
	if len(kinds) == 0 {
		return nil
	}
	kind := kinds[min(len(comp.pos), len(kinds)-1)]
	if len(comp.pos) >= len(kinds) && !strings.HasSuffix(kind, "...") && !strings.HasSuffix(kind, "...]") {
		return nil
	}
	// withPrefix completes the part of cur after its last sep, keeping what comes before.
	withPrefix := func(names []string, sep string) []string {
		prefix := cur[:strings.LastIndex(cur, sep)+1]
		out := make([]string, len(names))
		for i, n := range names {
			out[i] = prefix + n
		}
		return out
	}
	bare := strings.Trim(kind, "[]")
	switch {
	case strings.HasSuffix(kind, "TARGET") && strings.Contains(kind, "@"):
		return withPrefix(readTargets(targetsCachePath(a.env)), "@")
	case strings.HasPrefix(bare, "TARGET"):
		return readTargets(targetsCachePath(a.env))
	case strings.HasPrefix(bare, "SHELL"):
		return shells
	case strings.HasPrefix(bare, "NAME"), strings.HasPrefix(bare, "TUNNEL"):
		names := a.tunnelNames(comp.config)
		if strings.Contains(kind, ",") {
			// TUNNEL[,TUNNEL...]: complete the last element of a comma-separated list.
			return withPrefix(names, ",")
		}
		return names
	}
	return nil
}

// flagValues completes the value of the named flag: AWS profiles for --profile. Other values (files, documents, numbers) have none; the shells fall back to file names.
func (a *app) flagValues(name string) []string {
	if name == "profile" {
		return awsProfiles(a.env)
	}
	return nil
}

// tunnelNames lists the tunnels of the configuration file (config, else --config's default); none when it
// cannot be read.
func (a *app) tunnelNames(config string) []string {
	if config == "" {
		config = DefaultConfigPath(a.env)
	}
	f, err := LoadFile(config)
	if err != nil {
		return nil
	}
	names := make([]string, 0, len(f.Tunnels))
	for _, t := range f.Tunnels {
		names = append(names, t.Name)
	}
	return names
}

// awsProfiles lists the profiles of the AWS shared config and credentials files, read as the SDK finds them
// (AWS_CONFIG_FILE, AWS_SHARED_CREDENTIALS_FILE, else ~/.aws/config and ~/.aws/credentials).
func awsProfiles(env Env) []string {
	home := env.Get("HOME")
	if runtime.GOOS == "windows" && home == "" {
		home = env.Get("USERPROFILE")
	}
	configFile := env.Get("AWS_CONFIG_FILE")
	if configFile == "" {
		configFile = filepath.Join(home, ".aws", "config")
	}
	credsFile := env.Get("AWS_SHARED_CREDENTIALS_FILE")
	if credsFile == "" {
		credsFile = filepath.Join(home, ".aws", "credentials")
	}
	var names []string
	for _, file := range []struct {
		path   string
		prefix string // "profile " in the config file, except for [default]
	}{{configFile, "profile "}, {credsFile, ""}} {
		b, err := os.ReadFile(file.path)
		if err != nil {
			continue
		}
		for line := range strings.Lines(string(b)) {
			line = strings.TrimSpace(line)
			if !strings.HasPrefix(line, "[") || !strings.HasSuffix(line, "]") {
				continue
			}
			section := strings.TrimSpace(line[1 : len(line)-1])
			switch {
			case section == "default":
				names = append(names, section)
			case file.prefix == "":
				names = append(names, section)
			case strings.HasPrefix(section, file.prefix):
				names = append(names, strings.TrimSpace(strings.TrimPrefix(section, file.prefix)))
			}
		}
	}
	return names
}

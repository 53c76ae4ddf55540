package release

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
)

// Main is the ssmrelease command (scripts/release runs it): it parses args, builds every artifact into
// OUTDIR, verifies them, prints their names and returns the exit code.
//
//	ssmrelease [--base-url URL] [--platform GOOS/GOARCH,...] [--root DIR] OUTDIR
func Main(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("base-url", "", "`URL` the artifacts are published under, for the Homebrew formula and the Scoop manifest (default "+
		strings.ReplaceAll(DefaultBaseURL, "%s", "VERSION")+")")
	platforms := fs.String("platform", "", "build only these `GOOS/GOARCH` pairs, comma-separated (default: all six)")
	root := fs.String("root", ".", "the repository's `directory`")
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: scripts/release [flags] OUTDIR\n\nBuilds every release artifact into OUTDIR (which must not exist or be empty).\n\nFlags:\n")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() != 1 {
		fs.Usage()
		return 2
	}
	cfg := &Config{Root: *root, OutDir: fs.Arg(0), BaseURL: *baseURL, Log: stderr}
	if *platforms != "" {
		for _, s := range strings.Split(*platforms, ",") {
			p, err := ParsePlatform(strings.TrimSpace(s))
			if err != nil {
				fmt.Fprintf(stderr, "%v\n", err)
				return 2
			}
			cfg.Platforms = append(cfg.Platforms, p)
		}
	}
	src, err := GitInfo(ctx, *root)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	cfg.Source = src
	fmt.Fprintf(stderr, "release: %s (%s), time %s\n", src.Version, src.Describe, src.Time.Format("2006-01-02T15:04:05Z"))
	names, err := Build(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if err := Verify(cfg.OutDir, cfg.BaseURL); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return 0
}

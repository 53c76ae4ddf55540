// Command release builds an ssmwire release; scripts/release runs it. See package
// github.com/ssmwire/ssmwire/internal/tools/release.
//
//	release [--base-url URL] [--platform GOOS/GOARCH,...] OUTDIR
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"strings"

	"github.com/ssmwire/ssmwire/internal/tools/release"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("release", flag.ContinueOnError)
	fs.SetOutput(stderr)
	baseURL := fs.String("base-url", "", "`URL` the artifacts are published under, for the Homebrew formula and the Scoop manifest (default "+
		strings.ReplaceAll(release.DefaultBaseURL, "%s", "VERSION")+")")
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
	cfg := &release.Config{Root: *root, OutDir: fs.Arg(0), BaseURL: *baseURL, Log: stderr}
	if *platforms != "" {
		for _, s := range strings.Split(*platforms, ",") {
			p, err := release.ParsePlatform(strings.TrimSpace(s))
			if err != nil {
				fmt.Fprintf(stderr, "%v\n", err)
				return 2
			}
			cfg.Platforms = append(cfg.Platforms, p)
		}
	}
	src, err := release.GitInfo(ctx, *root)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	cfg.Source = src
	fmt.Fprintf(stderr, "release: %s (%s), time %s\n", src.Version, src.Describe, src.Time.Format("2006-01-02T15:04:05Z"))
	names, err := release.Build(ctx, cfg)
	if err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	if err := release.Verify(cfg.OutDir, cfg.BaseURL); err != nil {
		fmt.Fprintf(stderr, "%v\n", err)
		return 1
	}
	for _, n := range names {
		fmt.Fprintln(stdout, n)
	}
	return 0
}

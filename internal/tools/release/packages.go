package release

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goreleaser/nfpm/v2"
	_ "github.com/goreleaser/nfpm/v2/deb" // registers the "deb" packager
	"github.com/goreleaser/nfpm/v2/files"
	_ "github.com/goreleaser/nfpm/v2/rpm" // registers the "rpm" packager
)

// Where the Linux packages put things. The plugin goes where AWS's packages put theirs, so that scripts
// and documentation written for AWS's plugin find ours.
const (
	PluginPath     = "/usr/local/sessionmanagerplugin/bin/session-manager-plugin"
	PluginLinkPath = "/usr/local/bin/session-manager-plugin"
	SSMWirePath    = "/usr/bin/ssmwire"
	// ReplacedPackage is the name of AWS's package, which ours provides, replaces and conflicts with.
	ReplacedPackage = "session-manager-plugin"
)

// packageDescription is the packages' description; its first line is the summary.
const packageDescription = `AWS Session Manager client and drop-in session-manager-plugin
ssmwire is a native client for AWS Systems Manager Session Manager. The package
installs session-manager-plugin where AWS's package does, so that the AWS CLI
(aws ssm start-session, aws ecs execute-command) runs it, and the ssmwire
command: shells, commands and port forwards by instance id or Name tag, named
tunnels, multiplexed and resumable forwarding.`

// PackageContents lists what the Linux packages of the given format ("deb" or "rpm") install, as
// (destination, kind) pairs where kind is "file", "symlink -> TARGET" or "dir": the test of the installed
// package checks the files against it.
func PackageContents(format string) [][2]string {
	var out [][2]string
	for _, c := range packageContents(format, nil, nil, "", "") {
		kind := c.Type
		if c.Type == files.TypeSymlink {
			kind = "symlink -> " + c.Source
		}
		out = append(out, [2]string{c.Destination, kind})
	}
	return out
}

// zshCompletionDir is where each distribution family's zsh looks for packaged completions.
var zshCompletionDir = map[string]string{
	"deb": "/usr/share/zsh/vendor-completions",
	"rpm": "/usr/share/zsh/site-functions",
}

// restoreLink is the script run after installing (deb: postinst, rpm: %posttrans). AWS's
// session-manager-plugin packages delete /usr/local/bin/session-manager-plugin in their removal scripts,
// and when ours replaces theirs those run after our files are in place, taking our link with them; the
// script puts it back. It does nothing when the link is there.
const restoreLink = `#!/bin/sh
set -e
if [ ! -e ` + PluginLinkPath + ` ] && [ ! -L ` + PluginLinkPath + ` ]; then
	ln -s ` + PluginPath + ` ` + PluginLinkPath + `
fi
`

func postInstall(format, script string) string {
	if format == "deb" {
		return script
	}
	return ""
}

// postTrans: rpm runs the removal scripts of the packages ours obsoletes after our %post, but before
// %posttrans.
func postTrans(format, script string) string {
	if format == "rpm" {
		return script
	}
	return ""
}

// debianCopyright writes Debian's machine-readable copyright file (copyright-format 1.0) naming the licence,
// with its full text.
func debianCopyright(license []byte) []byte {
	var b bytes.Buffer
	b.WriteString(`Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: ssmwire
Source: https://github.com/ssmwire/ssmwire

Files: *
Copyright: the ssmwire developers
License: Apache-2.0

License: Apache-2.0
`)
	for line := range strings.Lines(strings.Trim(string(license), "\n")) {
		line = strings.TrimRight(line, " \t\n")
		if line == "" {
			line = "."
		}
		b.WriteString(" " + line + "\n")
	}
	return b.Bytes()
}

func packageContents(format string, bins, completions map[string]string, readme, license string) files.Contents {
	file := func(src, dst string, mode os.FileMode) *files.Content {
		return &files.Content{Source: src, Destination: dst, Type: files.TypeFile,
			FileInfo: &files.ContentFileInfo{Mode: mode, Owner: "root", Group: "root"}}
	}
	c := files.Contents{
		{Destination: "/usr/local/sessionmanagerplugin", Type: files.TypeDir,
			FileInfo: &files.ContentFileInfo{Mode: 0o755, Owner: "root", Group: "root"}},
		{Destination: "/usr/local/sessionmanagerplugin/bin", Type: files.TypeDir,
			FileInfo: &files.ContentFileInfo{Mode: 0o755, Owner: "root", Group: "root"}},
		file(bins["session-manager-plugin"], PluginPath, 0o755),
		{Source: PluginPath, Destination: PluginLinkPath, Type: files.TypeSymlink},
		file(bins["ssmwire"], SSMWirePath, 0o755),
		file(completions["bash"], "/usr/share/bash-completion/completions/ssmwire", 0o644),
		file(completions["zsh"], zshCompletionDir[format]+"/_ssmwire", 0o644),
		file(completions["fish"], "/usr/share/fish/vendor_completions.d/ssmwire.fish", 0o644),
		file(readme, "/usr/share/doc/ssmwire/README.md", 0o644),
	}
	if format == "deb" {
		// Debian's policy: the copyright file names the licence (debianCopyright).
		c = append(c, file(license, "/usr/share/doc/ssmwire/copyright", 0o644))
	} else {
		l := file(license, "/usr/share/licenses/ssmwire/LICENSE", 0o644)
		l.Type = files.TypeRPMLicense
		c = append(c, l)
	}
	return c
}

// linuxPackage writes p's package in format ("deb" or "rpm") and returns its name.
func (b *builder) linuxPackage(format string, p Platform, bins, completions map[string]string) (string, error) {
	license := filepath.Join(b.cfg.Root, "LICENSE")
	if format == "deb" {
		text, err := os.ReadFile(license)
		if err != nil {
			return "", fmt.Errorf("release: %w", err)
		}
		license = filepath.Join(b.work, "copyright")
		if err := writeFile(license, debianCopyright(text)); err != nil {
			return "", err
		}
	}
	script := filepath.Join(b.work, "restore-link.sh")
	if err := writeFile(script, []byte(restoreLink)); err != nil {
		return "", err
	}
	info := &nfpm.Info{
		Name:          "ssmwire",
		Arch:          p.Arch,
		Platform:      "linux",
		Version:       b.cfg.Source.Version,
		VersionSchema: "none",
		Release:       "1",
		Section:       "net",
		Priority:      "optional",
		Maintainer:    "ssmwire developers <ssmwire@users.noreply.github.com>",
		Description:   packageDescription,
		Vendor:        "ssmwire",
		Homepage:      "https://github.com/ssmwire/ssmwire",
		License:       "Apache-2.0",
		MTime:         b.cfg.Source.Time,
		Overridables: nfpm.Overridables{
			Provides:  []string{ReplacedPackage},
			Replaces:  []string{ReplacedPackage},
			Conflicts: []string{ReplacedPackage},
			Contents:  packageContents(format, bins, completions, filepath.Join(b.cfg.Root, "README.md"), license),
			Scripts:   nfpm.Scripts{PostInstall: postInstall(format, script)},
			RPM: nfpm.RPM{
				Scripts:   nfpm.RPMScripts{PostTrans: postTrans(format, script)},
				Summary:   "AWS Session Manager client and drop-in session-manager-plugin",
				Group:     "Applications/Internet",
				BuildHost: "ssmwire-release", // not the machine's name: the package must not depend on it
				Packager:  "ssmwire developers",
			},
		},
	}
	packager, err := nfpm.Get(format)
	if err != nil {
		return "", fmt.Errorf("release: %w", err)
	}
	info = nfpm.WithDefaults(info)
	info.Umask = 0o022
	if err := nfpm.PrepareForPackager(info, format); err != nil {
		return "", fmt.Errorf("release: %s for %s: %w", format, p, err)
	}
	var buf bytes.Buffer
	if err := packager.Package(info, &buf); err != nil {
		return "", fmt.Errorf("release: %s for %s: %w", format, p, err)
	}
	name := packager.ConventionalFileName(info)
	return name, writeFile(filepath.Join(b.cfg.OutDir, name), buf.Bytes())
}

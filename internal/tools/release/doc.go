// Package release builds the artifacts of an ssmwire release, reproducibly, for scripts/release:
//
//	OUTDIR/
//	  ssmwire_VERSION_{linux,darwin}_{amd64,arm64}.tar.gz   both programs, README.md, LICENSE, completions/
//	  ssmwire_VERSION_windows_{amd64,arm64}.zip
//	  ssmwire_VERSION_{amd64,arm64}.deb                      built with nfpm; replace AWS's session-manager-plugin
//	  ssmwire-VERSION-1.{x86_64,aarch64}.rpm
//	  ssmwire.rb                                             Homebrew formula (URLs under the base URL, SHA-256s)
//	  ssmwire.json                                           Scoop manifest
//	  SHA256SUMS                                             of every file above
//
// The data flows one way: [GitInfo] reads the commit (git describe, the commit time); [Build] compiles both
// programs per platform with -trimpath, CGO_ENABLED=0, no VCS stamp and, where the toolchain offers it, Go
// 1.26's previous garbage collector (GOEXPERIMENT=nogreenteagc), the version set with -ldflags -X
// (internal/version); runs the host's ssmwire to write the completion scripts; packs archives whose entries
// carry the commit time, root ownership and a fixed order; packs .deb and .rpm through nfpm with the same
// time; writes the manifests and SHA256SUMS. Two builds of one commit with one Go toolchain are byte for byte
// equal. [Verify] checks a release directory: SHA256SUMS and every URL and checksum in the manifests.
package release

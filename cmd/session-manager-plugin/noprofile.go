//go:build !ssmwire_pprof

package main

// startProfiles does nothing in a normal build: profiling is only in builds with the tag ssmwire_pprof
// (profile.go), so that the plugin neither links runtime/pprof nor reads a profiling variable.
func startProfiles() (stop func()) { return func() {} }

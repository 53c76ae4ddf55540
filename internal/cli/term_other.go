//go:build !unix

package cli

import "os"

// windowChanges returns no notifications: there is no SIGWINCH outside Unix.
func windowChanges() (<-chan os.Signal, func()) { return nil, func() {} }

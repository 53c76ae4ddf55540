// Package filecopy copies files to and from a Session Manager target with AWS's stock command documents and
// the target's coreutils: [To] uploads through a raw pseudo-terminal (AWS-StartInteractiveCommand), [From]
// downloads as base64 ranges over parallel command sessions (AWS-StartNonInteractiveCommand). Both check the
// SHA-256 of the file on both ends and write under a temporary name that is renamed over the destination only
// once the sums matched; a session lost for good is replaced by a new one that goes on from where it stopped.
// filecopy.go explains how.
//
// It is built only on what the root package exports: sessions are started with
// [ssmwire.Client.StartSession] and run with [ssmwire.Session.Shell], the cleanup of a lost upload with
// [ssmwire.Client.Run], and it logs through [ssmwire.Client.Logger].
//
//	err := filecopy.From(ctx, client, "i-0123456789abcdef0", "/var/log/syslog", ".", &filecopy.Config{Sessions: 4})
//	var ce *filecopy.Error
//	if errors.As(err, &ce) && errors.Is(err, fs.ErrNotExist) { ... }
package filecopy

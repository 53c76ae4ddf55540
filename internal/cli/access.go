package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/shell"
)

// jitHint ends the advice of an access-denied StartSession: in an account that requires just-in-time node
// access, sessions start only with an approved request's credentials.
const jitHint = `; if the account requires just-in-time node access, request it: run again with --reason "why you need access"`

// accessTimeout bounds the wait for an approval; the service expires requests nobody decides, and a person
// who waits longer than this runs the command again.
const accessTimeout = time.Hour

// withAccess returns c itself unless --reason was given; then it requests just-in-time node access to t,
// waits for the decision (a waiting line on standard error) and returns clients signed with the approved
// request's temporary credentials.
func (a *app) withAccess(ctx context.Context, c *clients, t ssmwire.Target) (*clients, error) {
	if a.g.reason == "" {
		return c, nil
	}
	id, p, err := a.requestAccess(ctx, c, t)
	if err != nil {
		return nil, err
	}
	a.log.Debug("access request approved", "request", id, "target", t.ID)
	return a.accessClients(ctx, c, p)
}

// requestAccess runs ssmwire.RequestAccess for t with the waiting line; it returns the request id and the
// credentials' provider.
func (a *app) requestAccess(ctx context.Context, c *clients, t ssmwire.Target) (string, aws.CredentialsProvider, error) {
	if t.Kind == ssmwire.TargetECS || t.Kind == ssmwire.TargetSSMString {
		return "", nil, usagef("--reason: just-in-time node access is for managed nodes (i-…, mi-…, Name tags), not ECS containers")
	}
	w := newWaitLine(a)
	id, p, err := ssmwire.RequestAccess(ctx, c.ssm, t.ID, a.g.reason, &ssmwire.AccessConfig{
		Timeout: accessTimeout,
		Pending: func(id string, waited time.Duration) { w.pending(id, t.ID, waited) },
	})
	w.done()
	var ae *ssmwire.AccessError
	switch {
	case errors.As(err, &ae):
		return id, nil, accessFailure(ae, t.ID)
	case err != nil && ctx.Err() != nil:
		return id, nil, fmt.Errorf("gave up waiting for access request %s (it stays pending until an approver decides or it expires)", id)
	case err != nil:
		return id, nil, c.explain(err)
	}
	if !a.g.quiet {
		fmt.Fprintf(a.stderr, "ssmwire: access request %s approved\n", id)
	}
	return id, p, nil
}

// accessFailure says how a request ended and what to do.
func accessFailure(e *ssmwire.AccessError, target string) error {
	switch {
	case errors.Is(e, ssmwire.ErrAccessRejected):
		return fmt.Errorf("access request %s for %s was rejected by an approver", e.RequestID, target)
	case errors.Is(e, ssmwire.ErrAccessRevoked):
		return fmt.Errorf("access request %s for %s was revoked", e.RequestID, target)
	case errors.Is(e, ssmwire.ErrAccessExpired):
		return fmt.Errorf("access request %s for %s expired before it was approved (or its access window is over); request access again", e.RequestID, target)
	case errors.Is(e, ssmwire.ErrAccessPending):
		return fmt.Errorf("access request %s for %s is not approved yet (status %s)", e.RequestID, target, e.Status)
	case errors.Is(e, ssmwire.ErrAccessTimeout):
		return fmt.Errorf("access request %s for %s still pending after %v; it stays open until an approver decides or it expires", e.RequestID, target, accessTimeout)
	}
	return e
}

// accessClients returns clients like c whose calls are signed with p's credentials.
func (a *app) accessClients(ctx context.Context, c *clients, p aws.CredentialsProvider) (*clients, error) {
	s := c.settings
	s.Credentials = p
	return loadClients(ctx, a.env, s, a.log)
}

// waitLine shows that ssmwire waits for an approval: one line, redrawn in place on a terminal.
type waitLine struct {
	a     *app
	tty   bool
	shown bool
}

func newWaitLine(a *app) *waitLine { return &waitLine{a: a, tty: shell.IsTerminal(a.stderr)} }

func (w *waitLine) pending(id, target string, waited time.Duration) {
	if w.a.g.quiet || (w.shown && !w.tty) {
		return
	}
	line := fmt.Sprintf("ssmwire: waiting for approval of access request %s for %s (%s; Ctrl-C gives up)", id, target, waited.Round(time.Second))
	if w.tty {
		fmt.Fprintf(w.a.stderr, "\r\x1b[K%s", line)
	} else {
		fmt.Fprintln(w.a.stderr, line)
	}
	w.shown = true
}

func (w *waitLine) done() {
	if w.tty && w.shown {
		fmt.Fprint(w.a.stderr, "\r\x1b[K")
	}
}

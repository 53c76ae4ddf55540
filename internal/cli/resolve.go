package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/ssmwire/ssmwire"
)

// errNoTerminal: a choice is needed and there is no terminal to ask on.
var errNoTerminal = errors.New("cli: no terminal to pick on")

// resolve turns a parsed TARGET into a StartSession target. A word that is not an id names a managed node
// by its Name tag, private address or private DNS name (nodes.go); several matches are picked from on a
// terminal, and are an error listing them otherwise.
func (a *app) resolve(ctx context.Context, c *clients, t ssmwire.Target) (ssmwire.Target, error) {
	if t.Kind != ssmwire.TargetName {
		return t, nil
	}
	nodes, missing, err := listNodes(ctx, c.ssm, c.ec2)
	if err != nil {
		return t, c.explain(fmt.Errorf("list managed nodes: %w", err))
	}
	m := matchNodes(nodes, t.Raw)
	if len(m) == 0 && missing != nil {
		// Without EC2, SSM's tag filter still finds Name tags.
		r, err := ssmwire.Resolve(ctx, c.ssm, t)
		var nf *ssmwire.NotFoundError
		var amb *ssmwire.AmbiguousError
		switch {
		case err == nil:
			return r, nil
		case errors.As(err, &amb):
			m = amb.Matches
		case errors.As(err, &nf):
			return t, &notFoundError{word: t.Raw, missing: errors.New(c.describeMissing(missing))}
		default:
			return t, c.explain(err)
		}
	}
	switch len(m) {
	case 0:
		return t, &notFoundError{word: t.Raw}
	case 1:
		t.ID = m[0].ID
		return t, nil
	}
	n, err := a.choose(ctx, m, fmt.Sprintf("%d managed nodes match %q", len(m), t.Raw))
	if errors.Is(err, errNoTerminal) {
		return t, &ambiguousError{word: t.Raw, nodes: m}
	}
	if err != nil {
		return t, err
	}
	t.ID = n.ID
	return t, nil
}

// pickTarget asks, on a terminal, which online managed node a command without TARGET is for; off a
// terminal it is a usage error listing them.
func (a *app) pickTarget(ctx context.Context, cmd string) (*clients, ssmwire.Target, error) {
	c, err := a.clients(ctx, "", "")
	if err != nil {
		return nil, ssmwire.Target{}, err
	}
	nodes, missing, err := listNodes(ctx, c.ssm, c.ec2)
	if err != nil {
		return nil, ssmwire.Target{}, c.explain(fmt.Errorf("list managed nodes: %w", err))
	}
	if missing != nil {
		a.warnf("%s", c.describeMissing(missing))
	}
	on := online(nodes)
	if len(on) == 0 {
		return nil, ssmwire.Target{}, usagef("%s: want a TARGET (no managed node is online)", cmd)
	}
	n, err := a.choose(ctx, on, "pick a managed node")
	if errors.Is(err, errNoTerminal) {
		return nil, ssmwire.Target{}, usagef("%s: want a TARGET; online managed nodes:\n%s", cmd, strings.TrimRight(nodeTable(on), "\n"))
	}
	if err != nil {
		return nil, ssmwire.Target{}, err
	}
	return c, ssmwire.Target{Raw: n.ID, Kind: ssmwire.TargetInstance, ID: n.ID}, nil
}

package ssmwire

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// TargetKind says how a target string is reached.
type TargetKind int

const (
	// TargetInstance is an EC2 instance id (i-…) or a managed instance id (mi-…), passed to StartSession.
	TargetInstance TargetKind = iota
	// TargetSSMString is a target string StartSession takes as it is, such as the
	// ecs:CLUSTER_TASK_RUNTIMEID form of an ECS container.
	TargetSSMString
	// TargetECS is ecs:CLUSTER/TASK[/CONTAINER], reached with ECS ExecuteCommand.
	TargetECS
	// TargetName is the value of a Name tag, resolved through DescribeInstanceInformation.
	TargetName
)

// Target is a parsed target string: what users type to name where a session goes.
type Target struct {
	Raw  string
	Kind TargetKind
	// ID is the StartSession target (TargetInstance, TargetSSMString, and TargetName once resolved).
	ID string
	// Cluster, Task and Container name an ECS target (Container may be empty: ECS then requires that the
	// task have a single container).
	Cluster, Task, Container string
}

// isInstanceID reports whether s is an EC2 instance id (i- and 8 or 17 lower-case hex digits) or a managed
// instance id (mi- and 17). A function, not a regexp: package variables are initialised in every program
// that links the package, the session-manager-plugin included, which never parses a target.
func isInstanceID(s string) bool {
	if h, ok := strings.CutPrefix(s, "i-"); ok {
		return (len(h) == 8 || len(h) == 17) && isLowerHex(h)
	}
	h, ok := strings.CutPrefix(s, "mi-")
	return ok && len(h) == 17 && isLowerHex(h)
}

// isLowerHex reports whether s is made of the digits 0-9 and a-f only.
func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// ParseTarget classifies a target string without calling any API: an instance id (i-…) or managed
// instance id (mi-…), ecs:CLUSTER/TASK[/CONTAINER], the SSM form ecs:CLUSTER_TASK_RUNTIMEID, or else the
// value of a Name tag. Malformed ecs: targets are errors.
func ParseTarget(s string) (Target, error) {
	t := Target{Raw: s}
	switch {
	case s == "":
		return t, errors.New("ssmwire: empty target")
	case isInstanceID(s):
		t.Kind, t.ID = TargetInstance, s
	case strings.HasPrefix(s, "ecs:"):
		rest := strings.TrimPrefix(s, "ecs:")
		if !strings.Contains(rest, "/") {
			// The SSM form ecs:CLUSTER_TASK_RUNTIMEID goes to StartSession unchanged.
			if parts := strings.Split(rest, "_"); len(parts) != 3 || slices.Contains(parts, "") {
				return t, fmt.Errorf("target %q: want ecs:CLUSTER/TASK[/CONTAINER] or ecs:CLUSTER_TASK_RUNTIMEID", s)
			}
			t.Kind, t.ID = TargetSSMString, s
			return t, nil
		}
		parts := strings.Split(rest, "/")
		if len(parts) < 2 || len(parts) > 3 || slices.Contains(parts, "") {
			return t, fmt.Errorf("target %q: want ecs:CLUSTER/TASK[/CONTAINER]", s)
		}
		t.Kind, t.Cluster, t.Task = TargetECS, parts[0], parts[1]
		if len(parts) == 3 {
			t.Container = parts[2]
		}
	default:
		// Anything else, including a malformed "i-…", is a Name tag value: a Name can look like anything.
		t.Kind = TargetName
	}
	return t, nil
}

// InstanceLister is the part of the SSM API that resolves Name tags ([Resolve]) and lists managed instances
// ([ListInstances]), with the exact method signatures of *ssm.Client.
type InstanceLister interface {
	DescribeInstanceInformation(ctx context.Context, params *ssm.DescribeInstanceInformationInput, optFns ...func(*ssm.Options)) (*ssm.DescribeInstanceInformationOutput, error)
	ListTagsForResource(ctx context.Context, params *ssm.ListTagsForResourceInput, optFns ...func(*ssm.Options)) (*ssm.ListTagsForResourceOutput, error)
}

// NotFoundError reports that no managed instance (with a running agent) has the Name tag.
type NotFoundError struct{ Name string }

func (e *NotFoundError) Error() string {
	return fmt.Sprintf("no managed instance has Name tag %s", e.Name)
}

// AmbiguousError reports that several managed instances share the Name tag.
type AmbiguousError struct {
	Name    string
	Matches []Instance
}

func (e *AmbiguousError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d managed instances have Name tag %s; use an instance id:", len(e.Matches), e.Name)
	for _, m := range e.Matches {
		fmt.Fprintf(&b, "\n  %s  %s", m.ID, m.PingStatus)
	}
	return b.String()
}

// Instance is one managed instance, as DescribeInstanceInformation and its Name tag describe it.
// PrivateDNSName is EC2's, filled in by programs that also ask EC2 (see [ListInstances]).
type Instance struct {
	ID, Name, PingStatus, Platform, IPAddress, ComputerName, AgentVersion string
	PrivateDNSName                                                        string
}

// Resolve turns a TargetName into an instance id through DescribeInstanceInformation with the filter
// tag:Name. Other kinds are returned unchanged.
func Resolve(ctx context.Context, api InstanceLister, t Target) (Target, error) {
	if t.Kind != TargetName {
		return t, nil
	}
	matches, err := describe(ctx, api, []ssmtypes.InstanceInformationStringFilter{
		{Key: aws.String("tag:Name"), Values: []string{t.Raw}},
	})
	if err != nil {
		return t, fmt.Errorf("look up Name tag %s: %w", t.Raw, err)
	}
	switch len(matches) {
	case 0:
		return t, &NotFoundError{Name: t.Raw}
	case 1:
		t.ID = matches[0].ID
		return t, nil
	default:
		for i := range matches {
			matches[i].Name = t.Raw
		}
		return t, &AmbiguousError{Name: t.Raw, Matches: matches}
	}
}

// describe lists managed instances matching filters, all pages.
func describe(ctx context.Context, api InstanceLister, filters []ssmtypes.InstanceInformationStringFilter) ([]Instance, error) {
	var out []Instance
	in := &ssm.DescribeInstanceInformationInput{Filters: filters}
	for {
		page, err := api.DescribeInstanceInformation(ctx, in)
		if err != nil {
			return nil, err
		}
		for _, ii := range page.InstanceInformationList {
			out = append(out, Instance{
				ID:           aws.ToString(ii.InstanceId),
				PingStatus:   string(ii.PingStatus),
				Platform:     strings.TrimSpace(aws.ToString(ii.PlatformName) + " " + aws.ToString(ii.PlatformVersion)),
				IPAddress:    aws.ToString(ii.IPAddress),
				ComputerName: aws.ToString(ii.ComputerName),
				AgentVersion: aws.ToString(ii.AgentVersion),
			})
		}
		if aws.ToString(page.NextToken) == "" {
			return out, nil
		}
		in.NextToken = page.NextToken
	}
}

// ListInstances lists every managed instance, sorted by Name tag and id. The Name tags of hybrid nodes
// (mi-…) come from SSM ListTagsForResource; those of EC2 instances (i-…) are EC2's, which SSM does not show
// (AWS documents resource type ManagedInstance for mi-… only): their Name is empty, for a program to fill in
// with EC2 DescribeInstances (the ssmwire command does). A node whose tags cannot be read keeps an empty name.
func ListInstances(ctx context.Context, api InstanceLister) ([]Instance, error) {
	insts, err := describe(ctx, api, nil)
	if err != nil {
		return nil, err
	}
	for i := range insts {
		if !strings.HasPrefix(insts[i].ID, "mi-") {
			continue
		}
		tags, err := api.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{
			ResourceType: ssmtypes.ResourceTypeForTaggingManagedInstance,
			ResourceId:   aws.String(insts[i].ID),
		})
		if err != nil {
			if ctx.Err() != nil {
				return nil, err
			}
			continue
		}
		for _, tag := range tags.TagList {
			if aws.ToString(tag.Key) == "Name" {
				insts[i].Name = aws.ToString(tag.Value)
			}
		}
	}
	SortInstances(insts)
	return insts, nil
}

// SortInstances sorts by Name tag, then id.
func SortInstances(insts []Instance) {
	slices.SortFunc(insts, func(a, b Instance) int {
		if c := strings.Compare(a.Name, b.Name); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
}

package cli

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"

	"github.com/ssmwire/ssmwire"
)

// The managed nodes a user picks from: SSM's list (DescribeInstanceInformation) joined with EC2's names and
// addresses (DescribeInstances). SSM shows no tags of EC2 instances (ListTagsForResource's ManagedInstance is
// for hybrid nodes, mi-…), so a Name tag of an i-… instance is EC2's. EC2 stays here, out of the library:
// the session-manager-plugin binary, which links the library, never links the EC2 client.

// ec2API is the part of the EC2 API that names instances, with the exact signature of *ec2.Client.
type ec2API interface {
	DescribeInstances(ctx context.Context, params *ec2.DescribeInstancesInput, optFns ...func(*ec2.Options)) (*ec2.DescribeInstancesOutput, error)
}

// ec2Batch is how many instance ids one DescribeInstances call filters on (EC2 takes at most 200 filter
// values a call); ec2PageSize is the page size asked for.
const (
	ec2Batch    = 200
	ec2PageSize = 1000
)

// ec2Error is a failed EC2 call: the nodes are listed without EC2's names and addresses.
type ec2Error struct{ err error }

func (e *ec2Error) Error() string { return "read names and addresses from EC2: " + e.err.Error() }

func (e *ec2Error) Unwrap() error { return e.err }

// listNodes lists the managed nodes with their names and addresses. When EC2 cannot be asked, it returns the
// nodes SSM knows and an [*ec2Error]; err is SSM's failure.
func listNodes(ctx context.Context, sm ssmwire.InstanceLister, e ec2API) (nodes []ssmwire.Instance, missing, err error) {
	nodes, err = ssmwire.ListInstances(ctx, sm)
	if err != nil {
		return nil, nil, err
	}
	if err := addEC2(ctx, e, nodes); err != nil {
		if ctx.Err() != nil {
			return nil, nil, err
		}
		missing = &ec2Error{err}
	}
	ssmwire.SortInstances(nodes)
	return nodes, missing, nil
}

// addEC2 fills in the Name tags, private addresses and private DNS names of the EC2 instances among nodes,
// asking about ec2Batch ids a call, page by page.
func addEC2(ctx context.Context, e ec2API, nodes []ssmwire.Instance) error {
	index := make(map[string]int)
	var ids []string
	for i, n := range nodes {
		if strings.HasPrefix(n.ID, "i-") {
			index[n.ID] = i
			ids = append(ids, n.ID)
		}
	}
	for len(ids) > 0 {
		batch := ids[:min(len(ids), ec2Batch)]
		ids = ids[len(batch):]
		p := ec2.NewDescribeInstancesPaginator(e, &ec2.DescribeInstancesInput{
			Filters:    []ec2types.Filter{{Name: aws.String("instance-id"), Values: batch}},
			MaxResults: aws.Int32(ec2PageSize),
		})
		for p.HasMorePages() {
			page, err := p.NextPage(ctx)
			if err != nil {
				return err
			}
			for _, r := range page.Reservations {
				for _, in := range r.Instances {
					i, ok := index[aws.ToString(in.InstanceId)]
					if !ok {
						continue
					}
					n := &nodes[i]
					for _, t := range in.Tags {
						if aws.ToString(t.Key) == "Name" {
							n.Name = aws.ToString(t.Value)
						}
					}
					if ip := aws.ToString(in.PrivateIpAddress); ip != "" {
						n.IPAddress = ip
					}
					n.PrivateDNSName = aws.ToString(in.PrivateDnsName)
				}
			}
		}
	}
	return nil
}

// matchNodes returns the nodes a user's word names: by Name tag, private address, private DNS name (whole,
// or its first label, "ip-10-0-0-5"), or computer name.
func matchNodes(nodes []ssmwire.Instance, word string) []ssmwire.Instance {
	var out []ssmwire.Instance
	for _, n := range nodes {
		dnsHost, _, _ := strings.Cut(n.PrivateDNSName, ".")
		switch word {
		case n.ID, n.Name, n.IPAddress, n.PrivateDNSName, dnsHost, n.ComputerName:
			out = append(out, n)
		}
	}
	return out
}

// online returns the nodes whose agent is connected.
func online(nodes []ssmwire.Instance) []ssmwire.Instance {
	var out []ssmwire.Instance
	for _, n := range nodes {
		if n.PingStatus == "Online" {
			out = append(out, n)
		}
	}
	return out
}

// looksLikeID matches what a user meant as an instance id but mistyped.
var looksLikeID = regexp.MustCompile(`^m?i-[0-9a-zA-Z]*$`)

// notFoundError is a TARGET that names no managed node.
type notFoundError struct {
	word    string
	missing error // EC2 could not be asked: its names and addresses were not searched
}

func (e *notFoundError) Error() string {
	msg := fmt.Sprintf("no managed node has the Name tag, private address or DNS name %q", e.word)
	if looksLikeID.MatchString(e.word) {
		msg += " (an instance id is i- and 8 or 17 hex digits, a managed node id mi- and 17)"
	}
	if e.missing != nil {
		msg += "; EC2 names were not searched: " + e.missing.Error()
	}
	return msg + "; 'ssmwire targets' lists the nodes"
}

// ambiguousError is a TARGET that names several managed nodes, off a terminal (on one, a picker asks).
type ambiguousError struct {
	word  string
	nodes []ssmwire.Instance
}

func (e *ambiguousError) Error() string {
	return fmt.Sprintf("%d managed nodes match %q; name one by instance id:\n%s", len(e.nodes), e.word,
		strings.TrimRight(nodeTable(e.nodes), "\n"))
}

// describeMissing says what an [ec2Error] means for the user, in one line, naming the permission when it is
// the missing one.
func (c *clients) describeMissing(missing error) string {
	if errors.Is(missing, ssmwire.ErrAccessDenied) || errors.Is(ssmwire.Classify(missing), ssmwire.ErrAccessDenied) {
		return fmt.Sprintf("names and private addresses of EC2 instances need ec2:DescribeInstances, which "+
			"your AWS identity (profile %s) may not call: ask for that permission", c.profile)
	}
	return "names and private addresses of EC2 instances are missing: " + c.explain(missing).Error()
}

package ssmtest

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ec2"
	ec2types "github.com/aws/aws-sdk-go-v2/service/ec2/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

func ec2Client(s *Server) *ec2.Client { return ec2.NewFromConfig(s.AWSConfig()) }

// ec2Names flattens a DescribeInstances page to "id=name@ip/dns" entries.
func ec2Names(out *ec2.DescribeInstancesOutput) []string {
	var l []string
	for _, r := range out.Reservations {
		for _, in := range r.Instances {
			var name string
			for _, t := range in.Tags {
				if aws.ToString(t.Key) == "Name" {
					name = aws.ToString(t.Value)
				}
			}
			l = append(l, fmt.Sprintf("%s=%s@%s/%s", aws.ToString(in.InstanceId), name,
				aws.ToString(in.PrivateIpAddress), aws.ToString(in.PrivateDnsName)))
		}
	}
	return l
}

func TestDescribeInstances(t *testing.T) {
	var insts []Instance
	for i := range 12 {
		insts = append(insts, Instance{ID: fmt.Sprintf("i-0%016x", i+1), Name: fmt.Sprintf("web-%02d", i), IPAddress: fmt.Sprintf("10.0.1.%d", i)})
	}
	insts = append(insts, Instance{ID: "mi-0bbbbbbbbbbbbbbb2", Name: "onprem"})
	s := newTestServer(t, &Options{Instances: insts}, true)
	c := ec2Client(s)
	ctx := testkit.Context(t)

	// Paginated with a filter on instance ids, as a client batching ids does.
	ids := []string{DefaultInstanceID}
	for _, in := range insts[:12] {
		ids = append(ids, in.ID)
	}
	var got []string
	pages := 0
	p := ec2.NewDescribeInstancesPaginator(c, &ec2.DescribeInstancesInput{
		Filters:    []ec2types.Filter{{Name: aws.String("instance-id"), Values: ids}},
		MaxResults: aws.Int32(5),
	})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		got = append(got, ec2Names(out)...)
	}
	if pages != 3 || len(got) != 13 {
		t.Fatalf("%d pages, %d instances: %v", pages, len(got), got)
	}
	if want := "i-00000000000000001=web-00@10.0.1.0/ip-10-0-1-0.ec2.internal"; !slices.Contains(got, want) {
		t.Errorf("missing %s in %v", want, got)
	}
	if want := DefaultInstanceID + "=" + DefaultInstanceName + "@10.0.0.10/ip-10-0-0-10.ec2.internal"; !slices.Contains(got, want) {
		t.Errorf("missing %s in %v", want, got)
	}
	for _, g := range got {
		if strings.HasPrefix(g, "mi-") {
			t.Errorf("EC2 knows a hybrid node: %s", g)
		}
	}

	out, err := c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{InstanceIds: []string{insts[3].ID}})
	if err != nil || strings.Join(ec2Names(out), " ") != "i-00000000000000004=web-03@10.0.1.3/ip-10-0-1-3.ec2.internal" {
		t.Errorf("by id: %v %v", out, err)
	}
	out, err = c.DescribeInstances(ctx, &ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("tag:Name"), Values: []string{"web-05"}}}})
	if err != nil || len(ec2Names(out)) != 1 {
		t.Errorf("by tag: %v %v", out, err)
	}

	// AWS's refusals.
	for _, tc := range []struct {
		in   *ec2.DescribeInstancesInput
		code string
	}{
		{&ec2.DescribeInstancesInput{InstanceIds: []string{"i-0fffffffffffffff0"}}, "InvalidInstanceID.NotFound"},
		{&ec2.DescribeInstancesInput{InstanceIds: []string{"i-bad"}}, "InvalidInstanceID.Malformed"},
		{&ec2.DescribeInstancesInput{InstanceIds: []string{DefaultInstanceID}, MaxResults: aws.Int32(5)}, "InvalidParameterCombination"},
		{&ec2.DescribeInstancesInput{MaxResults: aws.Int32(2)}, "InvalidParameterValue"},
		{&ec2.DescribeInstancesInput{NextToken: aws.String("garbage")}, "InvalidParameterValue"},
		{&ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("bogus"), Values: []string{"x"}}}}, "InvalidParameterValue"},
		{&ec2.DescribeInstancesInput{Filters: []ec2types.Filter{{Name: aws.String("instance-id"), Values: make([]string, 201)}}}, "FilterLimitExceeded"},
	} {
		if _, err := c.DescribeInstances(ctx, tc.in); errorCode(err) != tc.code {
			t.Errorf("%+v: got %v, want %s", tc.in, err, tc.code)
		}
	}
}

func TestDenyAndTagRules(t *testing.T) {
	s := newTestServer(t, &Options{
		DenyActions: []string{"ec2:DescribeInstances", "ssm:DescribeSessions"},
		Instances:   []Instance{{ID: "mi-0bbbbbbbbbbbbbbb2", Name: "onprem"}},
	}, true)
	ctx := testkit.Context(t)
	_, err := ec2Client(s).DescribeInstances(ctx, &ec2.DescribeInstancesInput{})
	if errorCode(err) != "UnauthorizedOperation" || !strings.Contains(err.Error(), "ec2:DescribeInstances") {
		t.Errorf("denied EC2 call: %v", err)
	}
	c := ssmClient(s)
	_, err = c.DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: ssmtypes.SessionStateActive})
	if errorCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "ssm:DescribeSessions") {
		t.Errorf("denied SSM call: %v", err)
	}
	// ManagedInstance tags are for hybrid nodes only, as AWS documents: an EC2 id is refused.
	tags, err := c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingManagedInstance, ResourceId: aws.String("mi-0bbbbbbbbbbbbbbb2")})
	if err != nil || len(tags.TagList) != 1 || aws.ToString(tags.TagList[0].Value) != "onprem" {
		t.Errorf("mi- tags: %+v %v", tags, err)
	}
	_, err = c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingManagedInstance, ResourceId: aws.String(DefaultInstanceID)})
	if errorCode(err) != "InvalidResourceId" {
		t.Errorf("i- tags as ManagedInstance: %v", err)
	}
}

package ecsexec

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ssmwire/ssmwire"
)

// fakeTasks answers DescribeTasks with out, or err.
type fakeTasks struct {
	out *ecs.DescribeTasksOutput
	err error
	in  *ecs.DescribeTasksInput
}

func (f *fakeTasks) DescribeTasks(_ context.Context, in *ecs.DescribeTasksInput, _ ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error) {
	f.in = in
	return f.out, f.err
}

func task(status string, containers ...ecstypes.Container) *ecs.DescribeTasksOutput {
	return &ecs.DescribeTasksOutput{Tasks: []ecstypes.Task{{
		TaskArn:    aws.String("arn:aws:ecs:us-east-1:123456789012:task/prod/abc123"),
		ClusterArn: aws.String("arn:aws:ecs:us-east-1:123456789012:cluster/prod"),
		LastStatus: aws.String(status), Containers: containers,
	}}}
}

func container(name, runtimeID string) ecstypes.Container {
	return ecstypes.Container{Name: aws.String(name), RuntimeId: aws.String(runtimeID)}
}

func TestSessionTarget(t *testing.T) {
	two := task("RUNNING", container("app", "abc123-1"), container("envoy", "abc123-2"))
	for _, tc := range []struct {
		target, want, wantErr string
		api                   *fakeTasks
	}{
		{target: "ecs:prod/abc123", api: &fakeTasks{out: task("RUNNING", container("app", "abc123-1"))}, want: "ecs:prod_abc123_abc123-1"},
		{target: "ecs:prod/abc123/envoy", api: &fakeTasks{out: two}, want: "ecs:prod_abc123_abc123-2"},
		{target: "ecs:prod/abc123", api: &fakeTasks{out: two}, wantErr: "2 containers (app, envoy); name one: ecs:prod/abc123/CONTAINER"},
		{target: "ecs:prod/abc123/web", api: &fakeTasks{out: two}, wantErr: "no container web (it has: app, envoy)"},
		{target: "ecs:prod/abc123", api: &fakeTasks{out: task("STOPPED", container("app", "abc123-1"))}, wantErr: "the task is STOPPED, not RUNNING"},
		{target: "ecs:prod/abc123", api: &fakeTasks{out: task("RUNNING", container("app", ""))}, wantErr: "container app has no runtime id"},
		{target: "ecs:prod/abc123", api: &fakeTasks{out: &ecs.DescribeTasksOutput{Failures: []ecstypes.Failure{{Reason: aws.String("MISSING")}}}},
			wantErr: "task abc123 in cluster prod: missing"},
		{target: "ecs:prod/abc123", api: &fakeTasks{err: errors.New("AccessDeniedException: not authorized to perform ecs:DescribeTasks")},
			wantErr: "ECS DescribeTasks: AccessDeniedException"},
	} {
		tgt, err := ssmwire.ParseTarget(tc.target)
		if err != nil {
			t.Fatal(err)
		}
		got, err := SessionTarget(context.Background(), tc.api, tgt)
		if tc.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("%s: err %v, want %q", tc.target, err, tc.wantErr)
			}
			continue
		}
		if err != nil || got.ID != tc.want || got.Kind != ssmwire.TargetSSMString {
			t.Errorf("%s: %+v, %v; want ID %s", tc.target, got, err, tc.want)
		}
		if c := aws.ToString(tc.api.in.Cluster); c != "prod" || len(tc.api.in.Tasks) != 1 || tc.api.in.Tasks[0] != "abc123" {
			t.Errorf("%s: DescribeTasks input cluster %q tasks %v", tc.target, c, tc.api.in.Tasks)
		}
	}
	// Other kinds pass through without a call.
	api := &fakeTasks{}
	in := ssmwire.Target{Raw: "i-0123456789abcdef0", Kind: ssmwire.TargetInstance, ID: "i-0123456789abcdef0"}
	if got, err := SessionTarget(context.Background(), api, in); err != nil || got != in || api.in != nil {
		t.Errorf("instance target: %+v, %v, called %v", got, err, api.in != nil)
	}
}

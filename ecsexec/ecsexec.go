package ecsexec

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	ecstypes "github.com/aws/aws-sdk-go-v2/service/ecs/types"

	"github.com/ssmwire/ssmwire"
)

// ErrNotECS: the target is not an ecs:CLUSTER/TASK[/CONTAINER] target, so ECS Exec cannot reach it.
var ErrNotECS = errors.New("ecsexec: not an ecs:CLUSTER/TASK[/CONTAINER] target")

// TaskDescriber is the part of the ECS API that finds a container's SSM target, with the exact method
// signature of *ecs.Client.
type TaskDescriber interface {
	DescribeTasks(ctx context.Context, params *ecs.DescribeTasksInput, optFns ...func(*ecs.Options)) (*ecs.DescribeTasksOutput, error)
}

// SessionTarget turns an ecs:CLUSTER/TASK[/CONTAINER] target into the StartSession target of that
// container, ecs:CLUSTER_TASKID_RUNTIMEID, with ECS DescribeTasks: what port forwarding and SSH to an ECS
// task need, since ECS ExecuteCommand carries commands only. CONTAINER may be left out when the task has one
// container. Targets of other kinds are returned unchanged.
func SessionTarget(ctx context.Context, api TaskDescriber, t ssmwire.Target) (ssmwire.Target, error) {
	if t.Kind != ssmwire.TargetECS {
		return t, nil
	}
	out, err := api.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: aws.String(t.Cluster), Tasks: []string{t.Task}})
	if err != nil {
		return t, fmt.Errorf("target %s: ECS DescribeTasks: %w", t.Raw, err)
	}
	if len(out.Tasks) == 0 {
		reason := "not found"
		if len(out.Failures) > 0 && out.Failures[0].Reason != nil {
			reason = strings.ToLower(*out.Failures[0].Reason)
		}
		return t, fmt.Errorf("target %s: task %s in cluster %s: %s", t.Raw, t.Task, t.Cluster, reason)
	}
	task := out.Tasks[0]
	if status := aws.ToString(task.LastStatus); status != "" && status != "RUNNING" {
		return t, fmt.Errorf("target %s: the task is %s, not RUNNING", t.Raw, status)
	}
	c, err := pickContainer(t, task.Containers)
	if err != nil {
		return t, err
	}
	cluster := lastARNSegment(aws.ToString(task.ClusterArn), t.Cluster)
	taskID := lastARNSegment(aws.ToString(task.TaskArn), t.Task)
	r := t
	r.Kind = ssmwire.TargetSSMString
	r.Container = aws.ToString(c.Name)
	r.ID = "ecs:" + cluster + "_" + taskID + "_" + aws.ToString(c.RuntimeId)
	return r, nil
}

// pickContainer is the container t names, or the task's only container.
func pickContainer(t ssmwire.Target, cs []ecstypes.Container) (ecstypes.Container, error) {
	var names []string
	for _, c := range cs {
		names = append(names, aws.ToString(c.Name))
	}
	var found []ecstypes.Container
	for _, c := range cs {
		if t.Container == "" || aws.ToString(c.Name) == t.Container {
			found = append(found, c)
		}
	}
	switch {
	case len(found) == 0 && t.Container != "":
		return ecstypes.Container{}, fmt.Errorf("target %s: the task has no container %s (it has: %s)", t.Raw, t.Container, strings.Join(names, ", "))
	case len(found) == 0:
		return ecstypes.Container{}, fmt.Errorf("target %s: the task has no containers", t.Raw)
	case len(found) > 1:
		return ecstypes.Container{}, fmt.Errorf("target %s: the task has %d containers (%s); name one: ecs:%s/%s/CONTAINER",
			t.Raw, len(found), strings.Join(names, ", "), t.Cluster, t.Task)
	}
	c := found[0]
	if aws.ToString(c.RuntimeId) == "" {
		return c, fmt.Errorf("target %s: container %s has no runtime id yet (is it running?)", t.Raw, aws.ToString(c.Name))
	}
	return c, nil
}

// lastARNSegment is what follows the last "/" of an ARN, or def when the ARN is empty.
func lastARNSegment(arn, def string) string {
	if arn == "" {
		return def
	}
	return arn[strings.LastIndex(arn, "/")+1:]
}

// Executor is the part of the ECS API that starts ECS Exec sessions, with the exact method signature of
// *ecs.Client.
type Executor interface {
	ExecuteCommand(ctx context.Context, params *ecs.ExecuteCommandInput, optFns ...func(*ecs.Options)) (*ecs.ExecuteCommandOutput, error)
}

// Start runs command in the container an ecs:CLUSTER/TASK[/CONTAINER] target names, with ECS Exec
// (ExecuteCommand, interactive: the only mode ECS has), and attaches client to its session, which carries the
// command's terminal ([ssmwire.Session.Shell]). CONTAINER may be left out when the task has one container.
// Targets of other kinds fail with [ErrNotECS] before any call; the first-run failures of ExecuteCommand (no
// credentials, access denied, throttling…) come back as an [*ssmwire.APIError], as [ssmwire.Classify] makes
// them.
func Start(ctx context.Context, client *ssmwire.Client, api Executor, t ssmwire.Target, command string) (*ssmwire.Session, error) {
	if t.Kind != ssmwire.TargetECS {
		return nil, fmt.Errorf("%w: %s", ErrNotECS, t.Raw)
	}
	in := &ecs.ExecuteCommandInput{
		Cluster:     aws.String(t.Cluster),
		Task:        aws.String(t.Task),
		Command:     aws.String(command),
		Interactive: true,
	}
	if t.Container != "" {
		in.Container = aws.String(t.Container)
	}
	out, err := api.ExecuteCommand(ctx, in)
	if err != nil {
		return nil, classify(err, t.Raw)
	}
	if out.Session == nil {
		return nil, fmt.Errorf("ecsexec: ECS ExecuteCommand on %s: no session in the response", t.Raw)
	}
	info := ssmwire.ChannelInfo{
		SessionID:  aws.ToString(out.Session.SessionId),
		StreamURL:  aws.ToString(out.Session.StreamUrl),
		TokenValue: aws.ToString(out.Session.TokenValue),
	}
	return client.Attach(ctx, info, t.Raw)
}

// classify returns an error of ExecuteCommand on target as an *ssmwire.APIError naming target when
// ssmwire.Classify recognises it, else wrapped with the operation's name.
func classify(err error, target string) error {
	var ae *ssmwire.APIError
	if errors.As(err, &ae) {
		return ae
	}
	if errors.As(ssmwire.Classify(err), &ae) {
		ae.Target = target // Classify made it: ours to fill in
		return ae
	}
	return fmt.Errorf("ecsexec: ECS ExecuteCommand on %s: %w", target, err)
}

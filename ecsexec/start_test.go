package ecsexec_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ecsexec"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/internal/testkit/clientkit"
	"github.com/ssmwire/ssmwire/shell"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// TestStart: ECS Exec starts an interactive command session in the named container, on the container's own
// Session Manager target, and the attached session carries the command's terminal output.
func TestStart(t *testing.T) {
	srv := clientkit.NewServer(t, nil)
	c := clientkit.NewClient(t, srv, nil)
	ctx := testkit.Context(t)
	tgt, err := ssmwire.ParseTarget("ecs:prod/0123456789abcdef/sidecar")
	if err != nil {
		t.Fatal(err)
	}
	s, err := ecsexec.Start(ctx, c, ecs.NewFromConfig(srv.AWSConfig()), tgt, "echo from-container")
	if err != nil {
		t.Fatal(err)
	}
	var out strings.Builder
	if err := s.Shell(ctx, &shell.Config{Stdout: &out}); err != nil || !strings.Contains(out.String(), "from-container") {
		t.Errorf("Shell = %v, output %q", err, out.String())
	}
	if err := s.Close(); err != nil {
		t.Errorf("Close = %v", err)
	}
	ids := srv.SessionIDs()
	if len(ids) != 1 {
		t.Fatalf("sessions %v, want one", ids)
	}
	info := srv.Session(ids[0])
	if !strings.HasPrefix(info.Target, "ecs:prod_0123456789abcdef_") || info.DocumentName != "" {
		t.Errorf("session target %q document %q, want an ECS Exec session on ecs:prod_0123456789abcdef_…", info.Target, info.DocumentName)
	}
	// The container DescribeTasks reports for the task is the one Exec ran in: SessionTarget agrees.
	st, err := ecsexec.SessionTarget(ctx, ecs.NewFromConfig(srv.AWSConfig()), tgt)
	if err != nil || st.ID != info.Target || st.Container != "sidecar" {
		t.Errorf("SessionTarget = %+v, %v; want ID %s", st, err, info.Target)
	}
}

// TestStartRefusals: targets other than ecs:CLUSTER/TASK fail before any call, and an IAM refusal of
// ecs:ExecuteCommand is an *ssmwire.APIError naming the action and the target.
func TestStartRefusals(t *testing.T) {
	srv := clientkit.NewServer(t, &ssmtest.Options{DenyActions: []string{"ecs:ExecuteCommand"}})
	c := clientkit.NewClient(t, srv, nil)
	ctx := testkit.Context(t)
	api := &countingExecutor{api: ecs.NewFromConfig(srv.AWSConfig())}

	inst, err := ssmwire.ParseTarget(ssmtest.DefaultInstanceID)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ecsexec.Start(ctx, c, api, inst, "sh"); !errors.Is(err, ecsexec.ErrNotECS) || api.calls != 0 {
		t.Errorf("instance target: err %v after %d calls, want ErrNotECS and no call", err, api.calls)
	}

	tgt, err := ssmwire.ParseTarget("ecs:prod/0123456789abcdef")
	if err != nil {
		t.Fatal(err)
	}
	_, err = ecsexec.Start(ctx, c, api, tgt, "sh")
	var ae *ssmwire.APIError
	if !errors.As(err, &ae) || !errors.Is(err, ssmwire.ErrAccessDenied) || ae.Action() != "ecs:ExecuteCommand" || ae.Target != tgt.Raw {
		t.Errorf("denied: %v (%#v), want an ErrAccessDenied APIError for ecs:ExecuteCommand on %s", err, ae, tgt.Raw)
	}
	if len(srv.SessionIDs()) != 0 {
		t.Errorf("sessions %v after a refusal", srv.SessionIDs())
	}
}

// countingExecutor counts the ExecuteCommand calls it passes on.
type countingExecutor struct {
	api   ecsexec.Executor
	calls int
}

func (e *countingExecutor) ExecuteCommand(ctx context.Context, in *ecs.ExecuteCommandInput, optFns ...func(*ecs.Options)) (*ecs.ExecuteCommandOutput, error) {
	e.calls++
	return e.api.ExecuteCommand(ctx, in, optFns...)
}

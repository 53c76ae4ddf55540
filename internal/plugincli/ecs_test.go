package plugincli

import (
	"encoding/json"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// execECS calls ECS ExecuteCommand and returns the plugin's command line as `aws ecs execute-command`
// builds it, with endpoint as the (ECS) endpoint argument.
func execECS(t testing.TB, srv *ssmtest.Server, endpoint string) (id string, args []string) {
	t.Helper()
	client := ecs.NewFromConfig(srv.AWSConfig())
	out, err := client.ExecuteCommand(testkit.Context(t), &ecs.ExecuteCommandInput{
		Cluster: aws.String("c1"), Task: aws.String("t1"), Container: aws.String("app"),
		Command: aws.String("sh"), Interactive: true,
	})
	if err != nil {
		t.Fatalf("ExecuteCommand: %v", err)
	}
	sess, _ := json.Marshal(map[string]string{
		"sessionId": *out.Session.SessionId, "streamUrl": *out.Session.StreamUrl, "tokenValue": *out.Session.TokenValue,
	})
	info := srv.Session(*out.Session.SessionId)
	if info == nil {
		t.Fatal("no session")
	}
	target, _ := json.Marshal(map[string]string{"Target": info.Target})
	return *out.Session.SessionId, []string{string(sess), "us-east-1", "StartSession", "", string(target), endpoint}
}

func TestECSExecuteCommand(t *testing.T) {
	srv := newServer(t)
	id, args := execECS(t, srv, srv.URL)
	r := runMain(t, args, strings.NewReader("echo ecs-$((1+1)); exit\n"), (&fakeEnv{}).env())
	if r.code != 0 || !strings.Contains(r.stdout, "ecs-2") ||
		!strings.HasSuffix(r.stdout, "\n\nExiting session with sessionId: "+id+".\n\n") {
		t.Errorf("code %d stdout %q stderr %q", r.code, r.stdout, r.stderr)
	}
}

// TestECSEndpointNotUsedForSSM: the endpoint argument of an ECS invocation is the ECS endpoint, so
// TerminateSession must go to the SSM endpoint the SDK resolves (here AWS_ENDPOINT_URL_SSM), not to it.
func TestECSEndpointNotUsedForSSM(t *testing.T) {
	srv := newServer(t)
	t.Setenv("AWS_ENDPOINT_URL_SSM", srv.URL)
	id, args := execECS(t, srv, "http://127.0.0.1:1") // nothing listens there
	stdout, stderr := new(testkit.Buffer), new(testkit.Buffer)
	// The stream URL is on the emulator, which the user named with AWS_ENDPOINT_URL_SSM.
	env := &fakeEnv{vars: map[string]string{"AWS_ENDPOINT_URL_SSM": srv.URL}}
	r := newRunner(newBlockingReader(t), stdout, stderr, env.env())
	sigc := captureSignals(r)
	done := make(chan int, 1)
	go func() { done <- r.main(testkit.Context(t), args) }()
	stdout.WaitFor(t, "Starting session with SessionId: "+id)
	(<-sigc) <- syscall.SIGTERM // ends the session with TerminateSession
	select {
	case code := <-done:
		if code != 1 {
			t.Errorf("exit code %d, want 1", code)
		}
	case <-time.After(15 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
	waitEnded(t, srv, id)
}

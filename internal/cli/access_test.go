package cli

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// jitHarness is a harness whose default instance requires just-in-time access; decide answers each
// GetAccessToken of a pending request.
func jitHarness(t *testing.T, decide func(ssmtest.AccessRequest) string) *harness {
	return newHarness(t, &ssmtest.Options{
		Instances:      []ssmtest.Instance{{ID: ssmtest.DefaultInstanceID, Name: ssmtest.DefaultInstanceName, AccessRequired: true}},
		AccessDecision: decide,
	})
}

func TestReasonApproved(t *testing.T) {
	h := jitHarness(t, func(ssmtest.AccessRequest) string { return ssmtest.AccessApproved })
	r := h.run(t, nil, "exec", "--reason", "ticket OPS-1", "ssmtest", "echo", "in")
	if r.code != 0 || r.stdout != "in\n" {
		t.Fatalf("exit %d, stdout %q, stderr %s", r.code, r.stdout, r.stderr)
	}
	reqs := h.srv.AccessRequests()
	if len(reqs) != 1 || reqs[0].Reason != "ticket OPS-1" || reqs[0].Target != ssmtest.DefaultInstanceID {
		t.Fatalf("requests %+v", reqs)
	}
	if !strings.Contains(r.stderr, "waiting for approval of access request "+reqs[0].ID) || !strings.Contains(r.stderr, reqs[0].ID+" approved") {
		t.Errorf("stderr %q lacks the waiting and approved lines", r.stderr)
	}
}

func TestReasonDenied(t *testing.T) {
	for _, tc := range []struct{ status, want string }{
		{ssmtest.AccessRejected, "was rejected"},
		{ssmtest.AccessExpired, "expired before it was approved"},
		{ssmtest.AccessRevoked, "was revoked"},
	} {
		h := jitHarness(t, func(ssmtest.AccessRequest) string { return tc.status })
		r := h.run(t, nil, "shell", "--reason", "x", "ssmtest")
		if r.code != ExitError || !strings.Contains(r.stderr, tc.want) {
			t.Errorf("%s: exit %d, stderr %q", tc.status, r.code, r.stderr)
		}
		if ids := h.srv.SessionIDs(); len(ids) != 0 {
			t.Errorf("%s: sessions started: %v", tc.status, ids)
		}
	}
}

func TestAccessDeniedSuggestsReason(t *testing.T) {
	h := jitHarness(t, nil)
	r := h.run(t, nil, "exec", "ssmtest", "true")
	if r.code != ExitError || !strings.Contains(r.stderr, "ssm:StartSession") || !strings.Contains(r.stderr, "--reason") {
		t.Fatalf("exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestSSHProxyAccessRequest(t *testing.T) {
	h := jitHarness(t, nil)
	port := echoServer(t, "sshd")
	// Made and approved elsewhere (by `ssmwire ssh --reason`): ssh-proxy only fetches the credentials.
	out, err := ssm.NewFromConfig(h.srv.AWSConfig()).StartAccessRequest(context.Background(), &ssm.StartAccessRequestInput{
		Reason: aws.String("x"), Targets: []ssmtypes.Target{{Key: aws.String("InstanceIds"), Values: []string{ssmtest.DefaultInstanceID}}}})
	if err != nil {
		t.Fatal(err)
	}
	id := aws.ToString(out.AccessRequestId)
	if r := h.run(t, nil, "ssh-proxy", "--access-request", id, "ssmtest", fmt.Sprint(port)); r.code != ExitError || !strings.Contains(r.stderr, "not approved yet") {
		t.Fatalf("pending request: exit %d, stderr %q", r.code, r.stderr)
	}
	h.srv.DecideAccess(id, ssmtest.AccessApproved)
	if r := h.run(t, nil, "ssh-proxy", "--access-request", id, "ssmtest", fmt.Sprint(port)); r.code != 0 {
		t.Fatalf("approved request: exit %d, stderr %q", r.code, r.stderr)
	}
}

func TestForwardWithReason(t *testing.T) {
	h := jitHarness(t, func(ssmtest.AccessRequest) string { return ssmtest.AccessApproved })
	port := echoServer(t, "db")
	ev, errb, stop := h.startJSON(t, "forward", "--reason", "migrate", "ssmtest", fmt.Sprintf("0:localhost:%d", port))
	up := ev.next(t, evTunnelUp)
	if got := roundTrip(t, "tcp", up.Listen, "q"); got != "db:q" {
		t.Fatalf("through the forward: %q", got)
	}
	if reqs := h.srv.AccessRequests(); len(reqs) != 1 || reqs[0].Reason != "migrate" {
		t.Fatalf("requests %+v", reqs)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit %d; stderr %s", code, errb.String())
	}
}

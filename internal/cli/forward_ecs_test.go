package cli

import (
	"fmt"
	"strings"
	"testing"
)

func TestForwardECS(t *testing.T) {
	h := newHarness(t, nil)
	port := echoServer(t, "db")
	ev, errb, stop := h.startJSON(t, "forward", "ecs:prod/0123456789abcdef", fmt.Sprintf("0:localhost:%d", port))
	up := ev.next(t, evTunnelUp)
	if got := roundTrip(t, "tcp", up.Listen, "ping"); got != "db:ping" {
		t.Errorf("through the ECS forward: %q", got)
	}
	if code := stop(); code != 0 {
		t.Errorf("exit code %d; stderr %s", code, errb.String())
	}
	ids := h.srv.SessionIDs()
	if len(ids) != 1 {
		t.Fatalf("sessions %v", ids)
	}
	// The container's runtime id comes from DescribeTasks: ssmtest names the only container "app".
	if info := h.srv.Session(ids[0]); !strings.HasPrefix(info.Target, "ecs:prod_0123456789abcdef_0123456789abcdef-") ||
		info.DocumentName != "AWS-StartPortForwardingSession" {
		t.Errorf("session target %q, document %q", info.Target, info.DocumentName)
	}
}

package pool

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/aws/smithy-go"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/portforward"
	"github.com/ssmwire/ssmwire/proxy"
	"github.com/ssmwire/ssmwire/session"
)

// TestClassifyDialError: every way a destination fails maps to its proxy kind, with a reason in words and the
// underlying error still reachable.
func TestClassifyDialError(t *testing.T) {
	r := ssmwire.Remote{Host: "db.internal", Port: 5432}
	closed := func(out string) error {
		return fmt.Errorf("portforward: dial: %w", &session.ChannelClosedError{SessionID: "s-1", Output: out})
	}
	tests := []struct {
		name   string
		err    error
		kind   error // nil: left as it is
		reason string
	}{
		{"IAM", &smithy.GenericAPIError{Code: "AccessDeniedException", Message: "not authorized"}, proxy.ErrForbidden, "StartSession refused: AccessDeniedException: not authorized"},
		{"classified IAM", &ssmwire.APIError{Kind: ssmwire.ErrAccessDenied, Err: errors.New("x")}, proxy.ErrForbidden, "access denied"},
		{"agent denylist", closed("Forwarding to IP address 169.254.169.254 is forbidden."), proxy.ErrForbidden, "refused by the agent: Forwarding"},
		{"mux connect failed", fmt.Errorf("read: %w", &portforward.ConnectToPortError{SessionID: "s-1"}), proxy.ErrRefused, "could not connect"},
		{"basic: refused", closed("Unable to connect to specified port: dial tcp 10.0.0.5:5432: connect: connection refused"), proxy.ErrRefused, "connection refused"},
		{"basic: no route", closed("dial tcp 10.0.0.5:5432: connect: no route to host"), proxy.ErrUnreachable, "unreachable from the target"},
		{"basic: timeout", closed("dial tcp 10.0.0.5:5432: i/o timeout"), proxy.ErrUnreachable, "i/o timeout"},
		{"unresolvable", closed("dial tcp: lookup db.internal: no such host"), proxy.ErrUnreachable, "no such host"},
		{"other session end", closed("Session is terminated by idle timeout"), nil, ""},
		{"target offline", &smithy.GenericAPIError{Code: "TargetNotConnected"}, nil, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classifyDialError(r, tt.err)
			if tt.kind == nil {
				if got != tt.err {
					t.Fatalf("classified %v as %v", tt.err, got)
				}
				return
			}
			var de *DestinationError
			if !errors.As(got, &de) || !errors.Is(got, tt.kind) || !errors.Is(got, tt.err) || de.Remote != r {
				t.Fatalf("got %#v", got)
			}
			if !strings.Contains(got.Error(), tt.reason) || !strings.HasPrefix(got.Error(), "ssmwire: db.internal:5432: ") {
				t.Errorf("message %q, want it to say %q", got, tt.reason)
			}
			if again := classifyDialError(r, got); again != got {
				t.Errorf("classifying twice changed %v", got)
			}
		})
	}
}

package ssmwire

import "testing"

func TestParseTarget(t *testing.T) {
	for _, tc := range []struct {
		in   string
		kind TargetKind
		want Target
		err  bool
	}{
		{in: "i-0123456789abcdef0", kind: TargetInstance},
		{in: "i-01234567", kind: TargetInstance},
		{in: "mi-0123456789abcdef0", kind: TargetInstance},
		{in: "web", kind: TargetName},
		{in: "i-not-an-id", kind: TargetName},
		// Ids are lower-case hex of the exact lengths; anything else may be a Name.
		{in: "i-0123456789ABCDEF0", kind: TargetName},
		{in: "i-012345678", kind: TargetName},
		{in: "i-0123456789abcdef01", kind: TargetName},
		{in: "i-", kind: TargetName},
		{in: "mi-01234567", kind: TargetName},
		{in: "mi-0123456789abcdefg", kind: TargetName},
		{in: "ecs:prod/abc123", kind: TargetECS, want: Target{Cluster: "prod", Task: "abc123"}},
		{in: "ecs:prod/abc123/app", kind: TargetECS, want: Target{Cluster: "prod", Task: "abc123", Container: "app"}},
		{in: "ecs:prod_abc123_abc123-0011", kind: TargetSSMString},
		{in: "ecs:prod", err: true},
		{in: "ecs:prod//app", err: true},
		{in: "", err: true},
	} {
		got, err := ParseTarget(tc.in)
		if (err != nil) != tc.err {
			t.Errorf("ParseTarget(%q): error %v", tc.in, err)
			continue
		}
		if err != nil {
			continue
		}
		if got.Kind != tc.kind || got.Cluster != tc.want.Cluster || got.Task != tc.want.Task || got.Container != tc.want.Container {
			t.Errorf("ParseTarget(%q) = %+v", tc.in, got)
		}
	}
}

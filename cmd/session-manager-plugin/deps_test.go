package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// TestDeps keeps what only the ssmwire command needs out of the plugin binary, a drop-in replacement that
// stays small: the doctor package, and any SDK service client beyond those the plugin's own work and the
// SDK's credential chain (SSO, STS assume-role and web identity, sign-in) use — notably the EC2 client the
// ssmwire command uses to name instances, and the ECS client (package ecsexec): the AWS CLI calls ECS
// ExecuteCommand and hands the plugin its answer, and the ECS client's package initialisers alone allocate
// about 1 MB at every start.
//
// It also refuses the SSM and KMS clients' schemas packages: from service/ssm v1.80.0 and service/kms v1.61.0
// the SDK generates them for its schema-based (de)serialisation, and their initialisers build about 1.8 MB
// of heap at every start whatever the program calls, 3 MiB of the plugin's resident set (BENCHMARKS.md,
// "Issue 18, fifth pass"). go.mod requires the last releases before them; raising those is a decision to
// take with those figures, not a routine update.
func TestDeps(t *testing.T) {
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	allowed := []string{"ssm", "kms", "sts", "sso", "ssooidc", "signin"}
	for _, pkg := range strings.Fields(string(out)) {
		switch {
		case strings.HasPrefix(pkg, "github.com/ssmwire/ssmwire/doctor"), strings.HasPrefix(pkg, "github.com/ssmwire/ssmwire/ecsexec"):
			t.Errorf("the plugin links %s", pkg)
		case pkg == "github.com/aws/aws-sdk-go-v2/service/ssm/schemas", pkg == "github.com/aws/aws-sdk-go-v2/service/kms/schemas":
			t.Errorf("the plugin links %s (see this test's comment)", pkg)
		case strings.HasPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/"):
			svc, _, _ := strings.Cut(strings.TrimPrefix(pkg, "github.com/aws/aws-sdk-go-v2/service/"), "/")
			if svc != "internal" && !slices.Contains(allowed, svc) {
				t.Errorf("the plugin links the SDK client %s", pkg)
			}
		}
	}
}

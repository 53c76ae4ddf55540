package plugincli

import (
	"strings"
	"testing"

	"github.com/ssmwire/ssmwire/internal/version"
)

const secretToken = "SECRET-TOKEN-abc123"

func TestArgvMatrix(t *testing.T) {
	good := `{"SessionId":"sess-1","StreamUrl":"ws://127.0.0.1:1/v1/data-channel/sess-1","TokenValue":"` + secretToken + `"}`
	params := `{"Target":"i-0123456789abcdef0"}`
	tests := []struct {
		name       string
		args       []string
		env        map[string]string
		code       int
		stdout     string // exact, when non-empty
		stdoutHas  string
		stderrHas  string
		wantUnset  string
		noStdout   bool
		noStderr   bool
		stdoutLike func(string) bool
	}{
		{name: "no args", args: nil, code: 0,
			stdout: "\nThe Session Manager plugin was installed successfully. Use the AWS CLI to start a session.\n\n", noStderr: true},
		{name: "version", args: []string{"--version"}, code: 0, stdout: version.Version + "\n", noStderr: true},
		{name: "one unknown arg", args: []string{"foo"}, code: 1,
			stdout: "\nUnknown operation foo. \nUse session-manager-plugin --version to check the version.\n\n", noStderr: true},
		{name: "two args", args: []string{"--version", "x"}, code: 1,
			stdout: "\nUnknown operation --version. \nUse session-manager-plugin --version to check the version.\n\n"},
		{name: "wrong operation", args: []string{good, "us-east-1", "StopSession", "", params, "https://ssm.us-east-1.amazonaws.com"},
			code: 1, stdout: "Invalid Operation\n", noStderr: true},
		{name: "malformed response JSON", args: []string{`{"SessionId":"x","TokenValue":"` + secretToken + `"`, "us-east-1", "StartSession", "", params, "https://e"},
			code: 1, noStdout: true, stderrHas: "Cannot perform start session: the StartSession response is not valid JSON"},
		{name: "response not an object", args: []string{`"` + secretToken + `"`, "us-east-1", "StartSession", "", params, "https://e"},
			code: 1, noStdout: true, stderrHas: "not a JSON object"},
		{name: "missing SessionId", args: []string{`{"StreamUrl":"wss://x","TokenValue":"` + secretToken + `"}`, "us-east-1", "StartSession", "", params, "https://e"},
			code: 1, noStdout: true, stderrHas: "Cannot perform start session: the StartSession response has no SessionId\n"},
		{name: "missing StreamUrl", args: []string{`{"SessionId":"s","TokenValue":"` + secretToken + `"}`, "us-east-1", "StartSession", "", params, "https://e"},
			code: 1, noStdout: true, stderrHas: "has no StreamUrl"},
		{name: "missing TokenValue", args: []string{`{"SessionId":"s","StreamUrl":"wss://x"}`, "us-east-1", "StartSession", "", params, "https://e"},
			code: 1, noStdout: true, stderrHas: "has no TokenValue"},
		{name: "TokenValue not a string", args: []string{`{"SessionId":"s","StreamUrl":"wss://x","TokenValue":12345}`, "us-east-1", "StartSession", "", params, "https://e"},
			code: 1, noStdout: true, stderrHas: "TokenValue is not a string"},
		{name: "parameters without Target", args: []string{good, "us-east-1", "StartSession", "", `{"DocumentName":"x"}`, "https://e"},
			code: 1, noStdout: true, stderrHas: "the StartSession parameters have no Target"},
		{name: "parameters not JSON", args: []string{good, "us-east-1", "StartSession", "", `{Target`, "https://e"},
			code: 1, noStdout: true, stderrHas: "the StartSession parameters are not a JSON object"},
		{name: "Target not a string", args: []string{good, "us-east-1", "StartSession", "", `{"Target":7}`, "https://e"},
			code: 1, noStdout: true, stderrHas: "Target is not a non-empty string"},
		{name: "endpoint not a URL", args: []string{good, "us-east-1", "StartSession", "", params, "not a url"},
			code: 1, noStdout: true, stderrHas: "is not an absolute URL"},
		{name: "env var missing", args: []string{"AWS_SSM_START_SESSION_RESPONSE", "us-east-1", "StartSession", "", params, "https://e"},
			code: 1, noStdout: true, stderrHas: "environment variable AWS_SSM_START_SESSION_RESPONSE holds no StartSession response",
			wantUnset: "AWS_SSM_START_SESSION_RESPONSE"},
		{name: "env var malformed", args: []string{"AWS_SSM_START_SESSION_RESPONSE_X", "us-east-1", "StartSession", "", params, "https://e"},
			env:  map[string]string{"AWS_SSM_START_SESSION_RESPONSE_X": `{"TokenValue":"` + secretToken + `"}`},
			code: 1, noStdout: true, stderrHas: "has no SessionId", wantUnset: "AWS_SSM_START_SESSION_RESPONSE_X"},
		{name: "unreachable stream", args: []string{good, "us-east-1", "StartSession", "", params, "http://127.0.0.1:1"},
			code: 1, stdout: "\nStarting session with SessionId: sess-1\n", stderrHas: "Cannot perform start session: session: open sess-1: session: dial data channel"},
		{name: "stream URL not a Session Manager endpoint", args: []string{good, "us-east-1", "StartSession", "", params, "https://ssm.us-east-1.amazonaws.com"},
			code: 1, stdout: "\nStarting session with SessionId: sess-1\n", stderrHas: `untrusted stream URL: host "127.0.0.1" is not a Session Manager endpoint`},
		{name: "unreachable stream, env var", args: []string{"AWS_SSM_START_SESSION_RESPONSE", "us-east-1", "StartSession", "", params, "https://e"},
			env:  map[string]string{"AWS_SSM_START_SESSION_RESPONSE": good},
			code: 1, stdout: "\nStarting session with SessionId: sess-1\n", stderrHas: "Cannot perform start session:",
			wantUnset: "AWS_SSM_START_SESSION_RESPONSE"},
		{name: "legacy three arguments", args: []string{good, "us-east-1", "StartSession"},
			code: 1, stdout: "\nStarting session with SessionId: sess-1\n", stderrHas: "Cannot perform start session:"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fe := &fakeEnv{vars: map[string]string{}}
			for k, v := range tt.env {
				fe.vars[k] = v
			}
			r := runMain(t, tt.args, nil, fe.env())
			if r.code != tt.code {
				t.Errorf("exit code = %d, want %d (stdout %q, stderr %q)", r.code, tt.code, r.stdout, r.stderr)
			}
			if tt.stdout != "" && r.stdout != tt.stdout {
				t.Errorf("stdout = %q, want %q", r.stdout, tt.stdout)
			}
			if tt.noStdout && r.stdout != "" {
				t.Errorf("stdout = %q, want nothing", r.stdout)
			}
			if tt.noStderr && r.stderr != "" {
				t.Errorf("stderr = %q, want nothing", r.stderr)
			}
			if tt.stderrHas != "" && !strings.Contains(r.stderr, tt.stderrHas) {
				t.Errorf("stderr = %q, want it to contain %q", r.stderr, tt.stderrHas)
			}
			if strings.Contains(r.stdout+r.stderr, secretToken) {
				t.Errorf("the token appears in the output: stdout %q, stderr %q", r.stdout, r.stderr)
			}
			if tt.wantUnset != "" {
				if _, ok := fe.vars[tt.wantUnset]; ok || len(fe.unset) != 1 || fe.unset[0] != tt.wantUnset {
					t.Errorf("unset = %q, want [%s] removed", fe.unset, tt.wantUnset)
				}
			} else if len(fe.unset) != 0 {
				t.Errorf("unset %q, want nothing unset", fe.unset)
			}
		})
	}
}

func TestParseArgsForms(t *testing.T) {
	env := (&fakeEnv{}).env()
	pascal := `{"SessionId":"s-1","StreamUrl":"wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/s-1","TokenValue":"t"}`
	camel := `{"sessionId":"ecs-execute-command-1","streamUrl":"wss://ssmmessages.us-east-1.amazonaws.com/v1/data-channel/e","tokenValue":"t"}`

	t.Run("full", func(t *testing.T) {
		inv, err := parseArgs([]string{pascal, "eu-west-1", "StartSession", "prof", `{"Target":"i-1","DocumentName":"d"}`, "https://ssm.eu-west-1.amazonaws.com"}, env)
		if err != nil {
			t.Fatal(err)
		}
		if inv.info.SessionID != "s-1" || inv.info.TokenValue != "t" || inv.region != "eu-west-1" || inv.profile != "prof" ||
			inv.target != "i-1" || inv.endpoint != "https://ssm.eu-west-1.amazonaws.com" || inv.legacy || inv.ecs {
			t.Errorf("parsed %+v", inv)
		}
	})
	t.Run("legacy", func(t *testing.T) {
		inv, err := parseArgs([]string{pascal, "us-east-1", "StartSession"}, env)
		if err != nil {
			t.Fatal(err)
		}
		if !inv.legacy || inv.target != "" || inv.endpoint != "" {
			t.Errorf("parsed %+v", inv)
		}
	})
	t.Run("ecs execute-command", func(t *testing.T) {
		inv, err := parseArgs([]string{camel, "us-east-1", "StartSession", "", `{"Target":"ecs:cluster_task_runtime"}`, "https://ecs.us-east-1.amazonaws.com"}, env)
		if err != nil {
			t.Fatal(err)
		}
		if !inv.ecs || inv.endpoint != "" || inv.ecsEndpoint != "https://ecs.us-east-1.amazonaws.com" ||
			inv.info.SessionID != "ecs-execute-command-1" || inv.target != "ecs:cluster_task_runtime" {
			t.Errorf("parsed %+v", inv)
		}
	})
	t.Run("ecs target with PascalCase keys", func(t *testing.T) {
		inv, err := parseArgs([]string{pascal, "us-east-1", "StartSession", "", `{"Target":"ecs:c_t_r"}`, "https://ecs.example"}, env)
		if err != nil {
			t.Fatal(err)
		}
		if !inv.ecs || inv.endpoint != "" {
			t.Errorf("parsed %+v", inv)
		}
	})
}

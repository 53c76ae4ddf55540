package plugincli

import (
	"strings"
	"testing"
)

// FuzzParseArgs feeds arbitrary StartSession command lines to the argument parser: it must never panic, and
// its errors must never repeat the token, whatever the response looks like.
func FuzzParseArgs(f *testing.F) {
	good := `{"SessionId":"sess-1","StreamUrl":"wss://h/v1/data-channel/sess-1","TokenValue":"` + secretToken + `"}`
	f.Add(good, "us-east-1", "StartSession", "", `{"Target":"i-1"}`, "https://ssm.us-east-1.amazonaws.com", 6)
	f.Add(`{"sessionId":"s","streamUrl":"ws://x","tokenValue":"`+secretToken+`"}`, "eu-west-1", "StartSession", "p", `{"Target":"ecs:c_t_r"}`, "https://ecs", 6)
	f.Add(`{"SessionId":1,"TokenValue":"`+secretToken+`x"}`, "", "StartSession", "", `[]`, "::", 4)
	f.Add("AWS_SSM_START_SESSION_RESPONSE", "r", "StartSession", "", `{"Target":""}`, "", 5)
	f.Fuzz(func(t *testing.T, response, region, op, profile, params, endpoint string, n int) {
		args := []string{response, region, op, profile, params, endpoint}
		args = args[:legacyArgs+((n%4)+4)%4] // 3 to 6 arguments
		env := Env{Lookup: func(string) (string, bool) { return response, true }, Unset: func(string) error { return nil }}
		_, err := parseArgs(args, env)
		if err != nil && strings.Contains(err.Error(), secretToken) {
			t.Fatalf("error repeats the token: %v", err)
		}
	})
}

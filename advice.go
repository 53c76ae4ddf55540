package ssmwire

import "fmt"

// Advice returns one line that says what went wrong and what to do, for a person at a terminal. profile is
// the AWS profile in use ("" for none chosen); it goes into the suggested commands.
func (e *APIError) Advice(profile string) string {
	p := profile
	if p == "" {
		p = "default"
	}
	target := e.Target
	if target == "" {
		target = "the target"
	}
	switch e.Kind {
	case ErrNoCredentials:
		return fmt.Sprintf("No AWS credentials found (looked in AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, "+
			"the shared config and credentials files for profile %s, SSO, and the instance or container role). "+
			"Run: aws configure --profile %s, or aws sso login --profile %s", p, p, p)
	case ErrSSOExpired:
		return "Your SSO session has expired. Run: aws sso login --profile " + p
	case ErrAccessDenied:
		action := e.Action()
		if action == "" {
			return fmt.Sprintf("Access denied: your AWS identity (profile %s) may not make this call: %v", p, e.Err)
		}
		if e.Operation == "StartSession" {
			return fmt.Sprintf("Access denied: your AWS identity (profile %s) may not call %s on %s; "+
				"ask for %s on the target and the session document", p, action, target, action)
		}
		return fmt.Sprintf("Access denied: your AWS identity (profile %s) may not call %s; ask for that permission", p, action)
	case ErrTargetNotConnected:
		t := "The target"
		if e.Target != "" {
			t = "Target " + e.Target
		}
		return t + " is not connected to Session Manager: its SSM Agent is not running, or cannot reach " +
			"the Systems Manager service (check the instance's role, network and agent)"
	case ErrThrottled:
		op := e.Action()
		if op == "" {
			op = "the request"
		}
		return fmt.Sprintf("AWS throttled %s even after the SDK's retries: wait a moment and try again, or start fewer sessions at once", op)
	}
	return e.Error()
}

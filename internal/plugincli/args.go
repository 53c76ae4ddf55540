package plugincli

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/ssmwire/ssmwire"
)

// The command line the AWS CLI builds (docs/protocol.md §7.1), without argv[0]:
//
//	<response JSON | AWS_SSM_START_SESSION_RESPONSE* variable name> <region> StartSession <profile> <parameters JSON> <endpoint URL>
//
// Three arguments is the legacy form of old CLIs (no profile, no parameters): such sessions refuse KMS
// encryption. Four and five arguments are accepted as the official plugin accepts them (missing values are
// empty); arguments after the sixth are ignored.
const (
	startSessionOperation = "StartSession"
	responseEnvPrefix     = "AWS_SSM_START_SESSION_RESPONSE"
	legacyArgs            = 3
)

// kmsRefusal is the official plugin's answer to a KMS encryption request when it was started with the legacy
// command line.
const kmsRefusal = "Installed version of CLI does not support Session Manager encryption feature. " +
	"Please upgrade to the latest version of your CLI (e.g., AWS CLI)."

// invocation is a parsed StartSession command line.
type invocation struct {
	info     ssmwire.ChannelInfo
	region   string
	profile  string
	target   string // the StartSession Target; "" in the legacy form
	endpoint string // SSM endpoint for the session's own SSM calls (resume, end); "" = the SDK's default for the region
	legacy   bool   // three-argument form: refuse KMS
	ecs      bool   // started by `aws ecs execute-command`

	// ecsEndpoint is the endpoint argument of an ECS invocation. It is not an SSM endpoint and is not used
	// for SSM calls (docs/protocol.md §7.2); it is kept for the log.
	ecsEndpoint string
}

// usageError is a command line the plugin refuses. msg goes to stdout as the official plugin prints it.
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

// parseArgs parses a StartSession command line (len(args) >= legacyArgs). lookup and unset read and remove
// the environment variable of the env-var form. Errors never contain the token.
func parseArgs(args []string, env Env) (*invocation, error) {
	if args[2] != startSessionOperation {
		return nil, &usageError{msg: "Invalid Operation\n"}
	}
	inv := &invocation{region: args[1], legacy: len(args) == legacyArgs}
	if len(args) > 3 {
		inv.profile = args[3]
	}
	if len(args) > 4 {
		target, err := parseTarget(args[4])
		if err != nil {
			return nil, err
		}
		inv.target = target
	}
	if len(args) > 5 {
		inv.endpoint = args[5]
	}

	response := []byte(args[0])
	if strings.HasPrefix(args[0], responseEnvPrefix) {
		v, ok := env.Lookup(args[0])
		if env.Unset != nil {
			_ = env.Unset(args[0]) // read once, then gone, as with the official plugin
		}
		if !ok || v == "" {
			return nil, fmt.Errorf("environment variable %s holds no StartSession response", args[0])
		}
		response = []byte(v)
	}
	camel, err := parseResponse(response, &inv.info)
	if err != nil {
		return nil, err
	}
	inv.ecs = camel || strings.HasPrefix(inv.target, "ecs:")
	if inv.ecs {
		inv.ecsEndpoint, inv.endpoint = inv.endpoint, ""
	}
	if inv.endpoint != "" {
		if u, err := url.Parse(inv.endpoint); err != nil || u.Scheme == "" || u.Host == "" {
			return nil, fmt.Errorf("endpoint URL %q is not an absolute URL", inv.endpoint)
		}
	}
	return inv, nil
}

// parseResponse decodes the StartSession (or ECS ExecuteCommand session) response. It reports whether the keys
// were lower camel case, as `aws ecs execute-command` writes them. Error messages name fields, never values.
func parseResponse(b []byte, info *ssmwire.ChannelInfo) (camel bool, err error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(b, &fields); err != nil {
		var se *json.SyntaxError
		if errors.As(err, &se) {
			return false, fmt.Errorf("the StartSession response is not valid JSON: %v", se)
		}
		return false, errors.New("the StartSession response is not a JSON object")
	}
	get := func(name string) (string, error) {
		raw, ok := fields[name]
		if !ok {
			lower := strings.ToLower(name[:1]) + name[1:]
			if raw, ok = fields[lower]; ok {
				camel = true
			}
		}
		if !ok || string(raw) == "null" {
			return "", fmt.Errorf("the StartSession response has no %s", name)
		}
		var v string
		if json.Unmarshal(raw, &v) != nil {
			return "", fmt.Errorf("the StartSession response's %s is not a string", name)
		}
		if v == "" {
			return "", fmt.Errorf("the StartSession response has an empty %s", name)
		}
		return v, nil
	}
	if info.SessionID, err = get("SessionId"); err != nil {
		return false, err
	}
	if info.StreamURL, err = get("StreamUrl"); err != nil {
		return false, err
	}
	if info.TokenValue, err = get("TokenValue"); err != nil {
		return false, err
	}
	return camel, nil
}

// parseTarget returns the Target of the StartSession request parameters.
func parseTarget(params string) (string, error) {
	var p map[string]json.RawMessage
	if err := json.Unmarshal([]byte(params), &p); err != nil {
		return "", fmt.Errorf("the StartSession parameters are not a JSON object: %v", err)
	}
	raw, ok := p["Target"]
	if !ok {
		return "", errors.New("the StartSession parameters have no Target")
	}
	var target string
	if json.Unmarshal(raw, &target) != nil || target == "" {
		return "", errors.New("the StartSession parameters' Target is not a non-empty string")
	}
	return target, nil
}

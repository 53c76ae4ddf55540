package ssmtest

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// Session types, as the agent names them in the HandshakeRequest.
const (
	SessionTypeStandardStream         = "Standard_Stream"
	SessionTypeInteractiveCommands    = "InteractiveCommands"
	SessionTypeNonInteractiveCommands = "NonInteractiveCommands"
	SessionTypePort                   = "Port"
)

// Names of the built-in documents.
const (
	DocShell                    = "SSM-SessionManagerRunShell"
	DocPortForwarding           = "AWS-StartPortForwardingSession"
	DocPortForwardingRemoteHost = "AWS-StartPortForwardingSessionToRemoteHost"
	DocSSH                      = "AWS-StartSSHSession"
	DocInteractiveCommand       = "AWS-StartInteractiveCommand"
	DocNonInteractiveCommand    = "AWS-StartNonInteractiveCommand"
	DocRunCommand               = "SSMWire-RunCommand"
)

// builtinDocuments returns a fresh map of the documents every server knows.
// StartSession without a DocumentName uses DocShell.
func builtinDocuments() map[string]Document {
	return map[string]Document{
		DocShell: {SessionType: SessionTypeStandardStream},
		DocPortForwarding: {
			SessionType: SessionTypePort,
			Parameters:  []Parameter{{Name: "portNumber", Default: "80"}, {Name: "localPortNumber", Default: "0"}},
			Properties: map[string]any{
				"type":            "LocalPortForwarding",
				"portNumber":      "{{ portNumber }}",
				"localPortNumber": "{{ localPortNumber }}",
			},
		},
		DocPortForwardingRemoteHost: {
			SessionType: SessionTypePort,
			Parameters: []Parameter{
				{Name: "host", Required: true},
				{Name: "portNumber", Default: "80"},
				{Name: "localPortNumber", Default: "0"},
			},
			Properties: map[string]any{
				"type":            "LocalPortForwarding",
				"host":            "{{ host }}",
				"portNumber":      "{{ portNumber }}",
				"localPortNumber": "{{ localPortNumber }}",
			},
		},
		DocSSH: {
			SessionType: SessionTypePort,
			Parameters:  []Parameter{{Name: "portNumber", Default: "22"}},
			Properties:  map[string]any{"portNumber": "{{ portNumber }}"},
		},
		DocInteractiveCommand: {
			SessionType: SessionTypeInteractiveCommands,
			Parameters:  []Parameter{{Name: "command", Required: true}},
			Properties:  map[string]any{"commands": "{{ command }}"},
		},
		DocNonInteractiveCommand: {
			SessionType: SessionTypeNonInteractiveCommands,
			Parameters:  []Parameter{{Name: "command", Required: true}},
			Properties:  map[string]any{"commands": "{{ command }}"},
		},
		DocRunCommand: {
			SessionType: SessionTypeNonInteractiveCommands,
			Parameters:  []Parameter{{Name: "command", Required: true}},
			Properties:  map[string]any{"commands": "{{ command }}", "separateOutputStream": true},
		},
	}
}

var paramRef = regexp.MustCompile(`\{\{\s*([A-Za-z0-9_.-]+)\s*\}\}`)

// resolve checks StartSession parameters against the document and returns the
// properties after substitution. The error is an *apiError.
func (d *Document) resolve(name string, params map[string][]string) (map[string]any, error) {
	switch d.SessionType {
	case SessionTypeStandardStream, SessionTypeInteractiveCommands, SessionTypeNonInteractiveCommands, SessionTypePort:
	default:
		return nil, &apiError{Code: "InvalidDocument", Message: fmt.Sprintf("document %s has unsupported session type %q", name, d.SessionType)}
	}
	values := make(map[string]string, len(d.Parameters))
	for _, p := range d.Parameters {
		if v, ok := params[p.Name]; ok && len(v) > 0 {
			values[p.Name] = strings.Join(v, "\n")
			continue
		}
		if p.Required {
			return nil, &apiError{Code: "ValidationException", Message: fmt.Sprintf("Parameter %q is required by document %s.", p.Name, name)}
		}
		values[p.Name] = p.Default
	}
	for k := range params {
		if !slices.ContainsFunc(d.Parameters, func(p Parameter) bool { return p.Name == k }) {
			return nil, &apiError{Code: "InvalidParameters", Message: fmt.Sprintf("Parameter %q is not defined in document %s.", k, name)}
		}
	}
	if d.Properties == nil {
		return nil, nil
	}
	return substitute(d.Properties, values).(map[string]any), nil
}

// substitute returns a deep copy of v with parameter references replaced.
func substitute(v any, values map[string]string) any {
	switch v := v.(type) {
	case string:
		return paramRef.ReplaceAllStringFunc(v, func(ref string) string {
			name := paramRef.FindStringSubmatch(ref)[1]
			if val, ok := values[name]; ok {
				return val
			}
			return ref
		})
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, e := range v {
			m[k] = substitute(e, values)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, e := range v {
			s[i] = substitute(e, values)
		}
		return s
	default:
		return v
	}
}

// preferencesContent renders the shell document as AWS holds it once an account has saved its Session
// Manager preferences: "inputs" with the KMS key of Options.KMSKeyID ("" for none) and the other settings at
// their defaults.
func preferencesContent(kmsKeyID string) string {
	b, _ := json.MarshalIndent(map[string]any{
		"schemaVersion": "1.0",
		"description":   "Document to hold regional settings for Session Manager",
		"sessionType":   SessionTypeStandardStream,
		"inputs": map[string]any{
			"s3BucketName": "", "s3KeyPrefix": "", "s3EncryptionEnabled": true,
			"cloudWatchLogGroupName": "", "cloudWatchEncryptionEnabled": true, "cloudWatchStreamingEnabled": true,
			"idleSessionTimeout": "20", "maxSessionDuration": "",
			"kmsKeyId":     kmsKeyID,
			"runAsEnabled": false, "runAsDefaultUser": "",
			"shellProfile": map[string]any{"linux": "", "windows": ""},
		},
	}, "", "  ")
	return string(b)
}

package ssmtest

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

const runCommandJSON = `{"schemaVersion": "1.0", "sessionType": "NonInteractiveCommands",
  "parameters": {"command": {"type": "String", "description": "The command"}},
  "properties": {"commands": "{{ command }}", "separateOutputStream": true}}`

func TestCreateAndGetDocument(t *testing.T) {
	s := newTestServer(t, &Options{NoRunCommandDocument: true}, true)
	c := ssmClient(s)
	ctx := testkit.Context(t)
	create := func(name, content string) error {
		_, err := c.CreateDocument(ctx, &ssm.CreateDocumentInput{Name: aws.String(name), Content: aws.String(content),
			DocumentType: ssmtypes.DocumentTypeSession, DocumentFormat: ssmtypes.DocumentFormatJson})
		return err
	}
	// A fresh account has no SSMWire-RunCommand.
	if _, err := c.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(DocRunCommand)}); errorCode(err) != "InvalidDocument" {
		t.Fatalf("GetDocument before: %v", err)
	}
	_, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocRunCommand),
		Parameters: map[string][]string{"command": {"true"}}})
	if errorCode(err) != "InvalidDocument" {
		t.Fatalf("StartSession before: %v", err)
	}
	for _, tc := range []struct{ name, content, code string }{
		{"AWS-Mine", runCommandJSON, "ValidationException"},
		{"x", runCommandJSON, "ValidationException"},
		{"Mine", "{not json", "InvalidDocumentContent"},
		{"Mine", `{"schemaVersion": "2.2", "sessionType": "Port"}`, "InvalidDocumentSchemaVersion"},
		{"Mine", `{"schemaVersion": "1.0", "sessionType": "Telnet"}`, "InvalidDocumentContent"},
		{DocShell, runCommandJSON, "DocumentAlreadyExists"},
	} {
		if err := create(tc.name, tc.content); errorCode(err) != tc.code {
			t.Errorf("create %s %.20q: %v, want %s", tc.name, tc.content, err, tc.code)
		}
	}
	if err := create(DocRunCommand, runCommandJSON); err != nil {
		t.Fatal(err)
	}
	if err := create(DocRunCommand, runCommandJSON); errorCode(err) != "DocumentAlreadyExists" {
		t.Errorf("second create: %v", err)
	}
	got, err := c.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(DocRunCommand)})
	if err != nil || aws.ToString(got.Content) != runCommandJSON || got.DocumentType != ssmtypes.DocumentTypeSession {
		t.Errorf("GetDocument: %+v %v", got, err)
	}
	// The created document starts sessions, and its parameter is required as declared.
	if _, err := c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocRunCommand),
		Parameters: map[string][]string{"command": {"true"}}}); err != nil {
		t.Errorf("StartSession with the created document: %v", err)
	}
	_, err = c.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocRunCommand)})
	if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), "command") {
		t.Errorf("StartSession without the parameter: %v", err)
	}
	// Built-in documents read back as content too.
	if got, err := c.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(DocPortForwarding)}); err != nil || !strings.Contains(aws.ToString(got.Content), `"sessionType": "Port"`) {
		t.Errorf("GetDocument built-in: %+v %v", got, err)
	}
}

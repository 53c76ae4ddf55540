package cli

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"
)

// runCommandContent is the SSMWire-RunCommand document: a NonInteractiveCommands session with
// separateOutputStream, the only kind whose sessions report the command's exit code.
const runCommandContent = `{
  "schemaVersion": "1.0",
  "description": "Run a command with stdout and stderr apart and its exit code (ssmwire exec)",
  "sessionType": "NonInteractiveCommands",
  "parameters": {"command": {"type": "String", "description": "The command to run"}},
  "properties": {"commands": "{{ command }}", "separateOutputStream": true}
}`

func setupCommand() *command {
	return &command{
		name:    "setup",
		args:    "",
		summary: "Create the " + DefaultExecDocument + " session document exec uses",
		help: `
Shows the Session document, then creates it in the account and region of the profile with SSM
CreateDocument (permission ssm:CreateDocument). A document that already exists is left as it
is. Without it, exec falls back to AWS-StartNonInteractiveCommand, where standard output and
standard error arrive merged and the exit code comes from a wrapper (see 'ssmwire help exec').

Examples:
  ssmwire setup --dry-run
  ssmwire setup --profile prod --region eu-west-1`,
		flags: func(fs *flag.FlagSet, o *cmdOptions) {
			fs.BoolVar(&o.dryRun, "dry-run", false, "show the document without creating it")
		},
		run: runSetup,
	}
}

func runSetup(ctx context.Context, a *app, o *cmdOptions, args []string) error {
	if len(args) != 0 {
		return usagef("setup takes no arguments")
	}
	c, err := a.clients(ctx, "", "")
	if err != nil {
		return err
	}
	where := fmt.Sprintf("region %s, profile %s", c.cfg.Region, c.profile)
	_, err = c.ssm.GetDocument(ctx, &ssm.GetDocumentInput{Name: aws.String(DefaultExecDocument)})
	var invalid *ssmtypes.InvalidDocument
	switch {
	case err == nil:
		a.say("%s already exists (%s); nothing to do.", DefaultExecDocument, where)
		a.setupJSON(c, "exists")
		return nil
	case !errors.As(err, &invalid):
		return c.explain(err)
	}
	if o.dryRun {
		a.say("Would create the Session document %s (%s):\n%s", DefaultExecDocument, where, runCommandContent)
		a.setupJSON(c, "would_create")
		return nil
	}
	a.say("Creating the Session document %s (%s):\n%s", DefaultExecDocument, where, runCommandContent)
	_, err = c.ssm.CreateDocument(ctx, &ssm.CreateDocumentInput{
		Name:           aws.String(DefaultExecDocument),
		Content:        aws.String(runCommandContent),
		DocumentType:   ssmtypes.DocumentTypeSession,
		DocumentFormat: ssmtypes.DocumentFormatJson,
	})
	var exists *ssmtypes.DocumentAlreadyExists
	if errors.As(err, &exists) {
		a.say("%s already exists (%s); nothing to do.", DefaultExecDocument, where)
		a.setupJSON(c, "exists")
		return nil
	}
	if err != nil {
		return c.explain(err)
	}
	a.say("Created. 'ssmwire exec TARGET -- COMMAND' now reports the command's exit code.")
	a.setupJSON(c, "created")
	return nil
}

// setupJSON reports setup's outcome as one JSON object with --json.
func (a *app) setupJSON(c *clients, state string) {
	if !a.g.json {
		return
	}
	json.NewEncoder(a.stdout).Encode(struct {
		Document string `json:"document"`
		Region   string `json:"region"`
		State    string `json:"state"` // created, exists or would_create
		Content  string `json:"content"`
	}{DefaultExecDocument, c.cfg.Region, state, runCommandContent})
}

// say prints a line for people on standard output, unless --quiet or --json.
func (a *app) say(format string, args ...any) {
	if a.g.quiet || a.g.json {
		return
	}
	fmt.Fprintf(a.stdout, format+"\n", args...)
}

package ssmwire_test

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// New and NewFromAWSConfig sign the data channel with the SSM client's (or aws.Config's) credentials and
// region, and trust its endpoint as the stream URL's host, with nothing else configured.
func TestClientSignsAndTrustsItsEndpoint(t *testing.T) {
	srv := newServer(t, &ssmtest.Options{Credentials: map[string]string{"AKIDCLIENTTEST": "client-test-secret"}})
	fromSSM, err := ssmwire.New(&ssmwire.Config{SSM: ssm.NewFromConfig(srv.AWSConfig())})
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*ssmwire.Client{
		"New":              fromSSM,
		"NewFromAWSConfig": ssmwire.NewFromAWSConfig(srv.AWSConfig()),
	} {
		before := srv.Stats().Upgrades.Signed
		if err := c.Run(testkit.Context(t), target, ssmwire.Command{Document: ssmtest.DocRunCommand, Command: "true"}); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := srv.Stats().Upgrades; got.Signed != before+1 || got.Refused != 0 {
			t.Errorf("%s: Upgrades %+v, want one more signed", name, got)
		}
	}
}

package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/internal/testkit"
	"github.com/ssmwire/ssmwire/ssmtest"
)

func TestRun(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	pr, pw := io.Pipe()
	code := make(chan int, 1)
	go func() {
		code <- run(ctx, []string{"-no-pacing", "-agent-version", "3.2.1.0"}, pw, io.Discard)
		pw.Close()
	}()
	line, err := bufio.NewReader(pr).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	url, ok := strings.CutPrefix(strings.TrimSpace(line), "SSMTEST_ENDPOINT=")
	if !ok || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("first line %q", line)
	}
	go io.Copy(io.Discard, pr)
	client := ssm.NewFromConfig(aws.Config{
		Region: "us-east-1",
		// The pair the emulator knows by default: the server verifies the signature in full.
		Credentials:  credentials.NewStaticCredentialsProvider(ssmtest.DefaultAccessKeyID, ssmtest.DefaultSecretAccessKey, ""),
		BaseEndpoint: aws.String(url),
	})
	out, err := client.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{})
	if err != nil || len(out.InstanceInformationList) != 1 || *out.InstanceInformationList[0].AgentVersion != "3.2.1.0" {
		t.Fatalf("DescribeInstanceInformation: %+v %v", out, err)
	}
	cancel()
	select {
	case c := <-code:
		if c != 0 {
			t.Errorf("exit code %d", c)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run did not return after cancel")
	}
}

func TestRunBadFlags(t *testing.T) {
	if c := run(context.Background(), []string{"-nope"}, io.Discard, io.Discard); c != 2 {
		t.Errorf("bad flag: exit %d, want 2", c)
	}
	if c := run(context.Background(), []string{"extra"}, io.Discard, io.Discard); c != 2 {
		t.Errorf("extra argument: exit %d, want 2", c)
	}
	if c := run(context.Background(), []string{"-addr", "256.0.0.1:0"}, io.Discard, io.Discard); c != 1 {
		t.Errorf("bad address: exit %d, want 1", c)
	}
}

// TestRunWelcome: once listening, ssmtest tells a person on stderr which targets it serves and what to
// paste to reach one.
func TestRunWelcome(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var stdout, stderr testkit.Buffer
	code := make(chan int, 1)
	go func() { code <- run(ctx, []string{"-no-pacing"}, &stdout, &stderr) }()
	line := stdout.WaitFor(t, "\n")
	url := strings.TrimSpace(strings.TrimPrefix(line, "SSMTEST_ENDPOINT="))
	got := stderr.WaitFor(t, "start-session")
	for _, want := range []string{
		ssmtest.DefaultInstanceID + "  " + ssmtest.DefaultInstanceName + "  Online",
		"ssmwire --endpoint-url " + url + " shell " + ssmtest.DefaultInstanceName,
		"aws --endpoint-url " + url + " ssm start-session --target " + ssmtest.DefaultInstanceID,
		"export AWS_ACCESS_KEY_ID=",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("stderr lacks %q:\n%s", want, got)
		}
	}
	cancel()
	<-code
}

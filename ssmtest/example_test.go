package ssmtest_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// Start an emulator and point aws-sdk-go-v2 at it: any static credentials work.
func Example() {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	defer srv.Close()

	cfg := aws.Config{
		Region:       "us-east-1",
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDEXAMPLE", "secret", ""),
		BaseEndpoint: aws.String(srv.URL),
	}
	client := ssm.NewFromConfig(cfg)
	out, err := client.StartSession(context.Background(), &ssm.StartSessionInput{
		Target: aws.String(ssmtest.DefaultInstanceID),
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	// out.StreamUrl and out.TokenValue open the data channel, exactly as on AWS.
	info := srv.Session(*out.SessionId)
	fmt.Println(info.SessionType, info.Target)
	// Output: Standard_Stream i-0123456789abcdef0
}

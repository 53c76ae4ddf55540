package ssmtest_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/ssmtest"
)

// Start an emulator and point aws-sdk-go-v2 at it with the configuration it hands out.
func Example() {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	defer srv.Close()

	client := ssm.NewFromConfig(srv.AWSConfig())
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

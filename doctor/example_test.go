package doctor_test

import (
	"context"
	"fmt"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/ssmwire/ssmwire/doctor"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// ExampleRun checks an emulated account and target, printing each check as it completes.
func ExampleRun() {
	srv := ssmtest.NewServer(&ssmtest.Options{NoPacing: true})
	defer srv.Close()
	cfg := &doctor.Config{
		Load:   func(context.Context) (aws.Config, error) { return srv.AWSConfig(), nil },
		Target: ssmtest.DefaultInstanceID,
		Env:    []string{"PATH="}, // no session-manager-plugin: a warning
	}
	var results []doctor.Result
	for r := range doctor.Run(context.Background(), cfg) {
		results = append(results, r)
		fmt.Println(r.Status, r.Check)
	}
	fmt.Println("passed:", doctor.Passed(results))
	// Output:
	// pass credentials
	// pass region
	// pass endpoints
	// pass proxy
	// warn tls-api
	// warn tls-data-channel
	// pass target
	// pass session-document
	// warn plugin
	// pass session
	// passed: true
}

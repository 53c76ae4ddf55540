package cli

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
)

// plainError is an error told in one line of our own, still wrapping the SDK's for errors.Is and As.
type plainError struct {
	msg string
	err error
}

func (e *plainError) Error() string { return e.msg }

func (e *plainError) Unwrap() error { return e.err }

// explainOther tells the failures Classify does not know in one line: a missing document, an endpoint that
// cannot be reached, and any other API error as service, operation, code and message.
func (c *clients) explainOther(err error) error {
	var oe *smithy.OperationError
	if !errors.As(err, &oe) {
		return err
	}
	op := oe.ServiceID + " " + oe.OperationName
	var api smithy.APIError
	if errors.As(err, &api) {
		if api.ErrorCode() == "InvalidDocument" {
			return &plainError{fmt.Sprintf("%s: %s (region %s); 'ssmwire setup' creates %s, or choose "+
				"another with --document", op, strings.TrimSpace(api.ErrorMessage()), c.cfg.Region, DefaultExecDocument), err}
		}
		return &plainError{fmt.Sprintf("%s failed: %s: %s", op, api.ErrorCode(), api.ErrorMessage()), err}
	}
	var send *smithyhttp.RequestSendError
	if errors.As(err, &send) {
		host, why := "the AWS endpoint", "the request could not be sent"
		var ue *url.Error
		if errors.As(err, &ue) {
			if u, perr := url.Parse(ue.URL); perr == nil {
				host = u.Host
			}
		}
		var dns *net.DNSError
		var ne *net.OpError
		switch {
		case errors.As(err, &dns):
			why = "its name does not resolve"
		case errors.As(err, &ne) && strings.Contains(ne.Err.Error(), "refused"):
			why = "connection refused"
		case errors.As(err, &ne):
			why = ne.Err.Error()
		}
		return &plainError{fmt.Sprintf("cannot reach %s for %s (%s): check the network, the region (%s) "+
			"and --endpoint-url / AWS_ENDPOINT_URL", host, op, why, c.cfg.Region), err}
	}
	return &plainError{fmt.Sprintf("%s failed: %v", op, errors.Unwrap(oe)), err}
}

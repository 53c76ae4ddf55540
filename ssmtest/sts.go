package ssmtest

import (
	"encoding/xml"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// The identity STS GetCallerIdentity reports for every caller: an IAM user of the emulated account.
const (
	DefaultUserName = "ssmtest"
	DefaultUserARN  = "arn:aws:iam::" + DefaultAccountID + ":user/" + DefaultUserName
	DefaultUserID   = "AIDASSMTESTUSER00001"
)

const stsNamespace = "https://sts.amazonaws.com/doc/2011-06-15/"

// isSTSRequest reports whether r is an STS call: a query-protocol request (a form-encoded POST to / with no
// X-Amz-Target) signed for the service sts. AWS tells services apart by host name; the emulator, serving
// every service on one address, by the service of the signature's credential scope (EC2's query calls are
// signed for ec2).
func isSTSRequest(r *http.Request) bool {
	if r.URL.Path != "/" || r.Header.Get("X-Amz-Target") != "" ||
		!strings.HasPrefix(strings.ToLower(r.Header.Get("Content-Type")), "application/x-www-form-urlencoded") {
		return false
	}
	a, ok := parseAuthorization(r.Header.Get("Authorization"))
	return ok && a.Service == "sts"
}

// serveSTS answers the query protocol as STS does: a form body naming Action and Version, an XML
// answer, and XML errors (ErrorResponse) with the status STS uses. Only GetCallerIdentity is implemented,
// the call any signed-in identity may make (IAM cannot deny it).
func (s *Server) serveSTS(w http.ResponseWriter, r *http.Request) {
	s.stats.apiRequests.Add(1)
	if r.Method != http.MethodPost {
		s.writeSTSError(w, &apiError{Status: http.StatusMethodNotAllowed, Code: "InvalidAction", Message: "only POST is supported"})
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err != nil || len(body) > maxAPIBody {
		s.writeSTSError(w, &apiError{Code: "MalformedInput", Message: "could not read the request body"})
		return
	}
	req := &apiRequest{srv: s, http: r, body: body}
	if err := s.authenticate(req); err != nil {
		s.writeSTSError(w, stsAuthError(err))
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.writeSTSError(w, &apiError{Code: "MalformedInput", Message: "could not parse the form body"})
		return
	}
	action, version := form.Get("Action"), form.Get("Version")
	switch {
	case action == "":
		s.writeSTSError(w, &apiError{Code: "MissingAction", Message: "Missing Action"})
		return
	case action != "GetCallerIdentity":
		s.writeSTSError(w, &apiError{Code: "InvalidAction", Message: "Could not find operation " + action + " for version " + version})
		return
	case version != "2011-06-15":
		s.writeSTSError(w, &apiError{Code: "InvalidAction", Message: "Could not find operation " + action + " for version " + version})
		return
	}
	out := struct {
		XMLName xml.Name `xml:"GetCallerIdentityResponse"`
		XMLNS   string   `xml:"xmlns,attr"`
		Result  struct {
			Arn     string
			UserId  string
			Account string
		} `xml:"GetCallerIdentityResult"`
		RequestID string `xml:"ResponseMetadata>RequestId"`
	}{XMLNS: stsNamespace, RequestID: wire.FormatID(wire.NewID())}
	out.Result.Arn, out.Result.UserId, out.Result.Account = DefaultUserARN, DefaultUserID, DefaultAccountID
	b, _ := xml.Marshal(out) // plain strings never fail to marshal
	s.log.Debug("ssmtest: api", "action", "sts:"+action)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", out.RequestID)
	w.Write(append([]byte(xml.Header), b...))
}

// stsAuthError maps a SigV4 refusal to the code and status STS gives it.
func stsAuthError(err error) *apiError {
	ae, ok := err.(*apiError)
	if !ok {
		return &apiError{Status: http.StatusInternalServerError, Code: "InternalFailure", Message: err.Error()}
	}
	code := ae.Code
	switch ae.Code {
	case "UnrecognizedClientException":
		code = "InvalidClientTokenId"
	case "InvalidSignatureException":
		code = "SignatureDoesNotMatch"
	case "MissingAuthenticationTokenException":
		code = "MissingAuthenticationToken"
	}
	return &apiError{Status: http.StatusForbidden, Code: code, Message: ae.Message}
}

// writeSTSError writes an STS ErrorResponse.
func (s *Server) writeSTSError(w http.ResponseWriter, ae *apiError) {
	s.stats.apiErrors.Add(1)
	status := ae.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	kind := "Sender"
	if status >= 500 {
		kind = "Receiver"
	}
	out := struct {
		XMLName xml.Name `xml:"ErrorResponse"`
		XMLNS   string   `xml:"xmlns,attr"`
		Error   struct {
			Type    string
			Code    string
			Message string
		}
		RequestID string `xml:"RequestId"`
	}{XMLNS: stsNamespace, RequestID: wire.FormatID(wire.NewID())}
	out.Error.Type, out.Error.Code, out.Error.Message = kind, ae.Code, ae.Message
	b, _ := xml.Marshal(out)
	s.log.Debug("ssmtest: api error", "action", "sts", "code", ae.Code, "message", ae.Message)
	w.Header().Set("Content-Type", "text/xml")
	w.Header().Set("X-Amzn-RequestId", out.RequestID)
	w.WriteHeader(status)
	w.Write(append([]byte(xml.Header), b...))
}

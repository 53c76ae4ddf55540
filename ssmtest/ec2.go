package ssmtest

import (
	"encoding/base64"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"github.com/ssmwire/ssmwire/ssmtest/internal/wire"
)

// EC2 speaks the EC2 query protocol: a form-encoded POST with Action and Version, answered in XML. The server
// emulates DescribeInstances for the EC2 instances (i-…) among Options.Instances, with their tags, private
// address and private DNS name, as a tool that names instances needs them.

// ec2Version is the only API version the EC2 query protocol of the SDK sends.
const ec2Version = "2016-11-15"

// maxEC2FilterValues is EC2's limit on the values of all filters of one call.
const maxEC2FilterValues = 200

var ec2InstanceID = regexp.MustCompile(`^i-([0-9a-f]{8}|[0-9a-f]{17})$`)

// isQueryRequest reports whether r is an EC2 query-protocol call.
func isQueryRequest(r *http.Request) bool {
	return r.URL.Path == "/" && r.Header.Get("X-Amz-Target") == "" &&
		strings.HasPrefix(r.Header.Get("Content-Type"), "application/x-www-form-urlencoded")
}

// ec2Error is an EC2 error response.
type ec2Error struct {
	Status  int // 0 means 400
	Code    string
	Message string
}

func (e *ec2Error) Error() string { return e.Code + ": " + e.Message }

// serveQuery handles an EC2 query-protocol call.
func (s *Server) serveQuery(w http.ResponseWriter, r *http.Request) {
	s.stats.apiRequests.Add(1)
	body, err := io.ReadAll(io.LimitReader(r.Body, maxAPIBody+1))
	if err != nil || len(body) > maxAPIBody {
		s.writeEC2Error(w, &ec2Error{Code: "InvalidRequest", Message: "The request body could not be read."})
		return
	}
	req := &apiRequest{srv: s, http: r, body: body}
	if err := s.authenticate(req); err != nil {
		ae := err.(*apiError)
		code := ae.Code
		if code == "UnrecognizedClientException" {
			code = "AuthFailure"
		}
		s.writeEC2Error(w, &ec2Error{Status: http.StatusUnauthorized, Code: code, Message: ae.Message})
		return
	}
	form, err := url.ParseQuery(string(body))
	if err != nil {
		s.writeEC2Error(w, &ec2Error{Code: "InvalidRequest", Message: "The request body is not form-encoded."})
		return
	}
	if v := form.Get("Version"); v != ec2Version {
		s.writeEC2Error(w, &ec2Error{Code: "InvalidParameterValue", Message: fmt.Sprintf("Invalid API version %q.", v)})
		return
	}
	action := form.Get("Action")
	if action != "DescribeInstances" {
		s.writeEC2Error(w, &ec2Error{Code: "InvalidAction", Message: fmt.Sprintf("The action %s is not valid for this web service.", action)})
		return
	}
	if err := s.denied("ec2:" + action); err != nil {
		s.writeEC2Error(w, &ec2Error{Status: http.StatusForbidden, Code: "UnauthorizedOperation", Message: err.Message})
		return
	}
	out, err := s.describeInstances(form)
	if err != nil {
		s.writeEC2Error(w, err.(*ec2Error))
		return
	}
	out.XMLNS = "http://ec2.amazonaws.com/doc/" + ec2Version + "/"
	out.RequestID = wire.FormatID(wire.NewID())
	b, _ := xml.Marshal(out)
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	io.WriteString(w, xml.Header)
	w.Write(b)
}

func (s *Server) writeEC2Error(w http.ResponseWriter, e *ec2Error) {
	s.stats.apiErrors.Add(1)
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	type xmlError struct {
		Code    string
		Message string
	}
	b, _ := xml.Marshal(struct {
		XMLName   xml.Name   `xml:"Response"`
		Errors    []xmlError `xml:"Errors>Error"`
		RequestID string
	}{Errors: []xmlError{{e.Code, e.Message}}, RequestID: wire.FormatID(wire.NewID())})
	w.Header().Set("Content-Type", "text/xml;charset=UTF-8")
	w.WriteHeader(status)
	io.WriteString(w, xml.Header)
	w.Write(b)
}

type ec2Tag struct {
	Key   string `xml:"key"`
	Value string `xml:"value"`
}

type ec2Instance struct {
	InstanceID       string   `xml:"instanceId"`
	ImageID          string   `xml:"imageId"`
	StateCode        int      `xml:"instanceState>code"`
	StateName        string   `xml:"instanceState>name"`
	PrivateDNSName   string   `xml:"privateDnsName"`
	PrivateIPAddress string   `xml:"privateIpAddress"`
	InstanceType     string   `xml:"instanceType"`
	Platform         string   `xml:"platformDetails"`
	Tags             []ec2Tag `xml:"tagSet>item"`
}

type ec2Reservation struct {
	ReservationID string        `xml:"reservationId"`
	OwnerID       string        `xml:"ownerId"`
	Instances     []ec2Instance `xml:"instancesSet>item"`
}

type describeInstancesResponse struct {
	XMLName      xml.Name         `xml:"DescribeInstancesResponse"`
	XMLNS        string           `xml:"xmlns,attr"`
	RequestID    string           `xml:"requestId"`
	Reservations []ec2Reservation `xml:"reservationSet>item"`
	NextToken    string           `xml:"nextToken,omitempty"`
}

// ec2Filter is one Filter.N of a query.
type ec2Filter struct {
	Name   string
	Values []string
}

// indexed returns the values of prefix.1, prefix.2, … up to the first gap.
func indexed(form url.Values, prefix string) []string {
	var out []string
	for i := 1; ; i++ {
		v, ok := form[prefix+"."+strconv.Itoa(i)]
		if !ok {
			return out
		}
		out = append(out, v[0])
	}
}

func (s *Server) describeInstances(form url.Values) (*describeInstancesResponse, error) {
	ids := indexed(form, "InstanceId")
	var filters []ec2Filter
	nvalues := 0
	for i := 1; ; i++ {
		p := "Filter." + strconv.Itoa(i)
		name, ok := form[p+".Name"]
		if !ok {
			break
		}
		f := ec2Filter{Name: name[0], Values: indexed(form, p+".Value")}
		nvalues += len(f.Values)
		filters = append(filters, f)
	}
	if nvalues > maxEC2FilterValues {
		return nil, &ec2Error{Code: "FilterLimitExceeded", Message: fmt.Sprintf("The maximum number of filter values specified on a single call is %d", maxEC2FilterValues)}
	}
	maxResults := 0
	if v := form.Get("MaxResults"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 1000 {
			return nil, &ec2Error{Code: "InvalidParameterValue", Message: fmt.Sprintf("Value ( %s ) for parameter maxResults is invalid. Expecting a value greater than 5.", v)}
		}
		if len(ids) > 0 {
			return nil, &ec2Error{Code: "InvalidParameterCombination", Message: "The parameter instancesSet cannot be used with the parameter maxResults"}
		}
		maxResults = n
	}
	start := 0
	if tok := form.Get("NextToken"); tok != "" {
		b, err := base64.RawURLEncoding.DecodeString(tok)
		n, err2 := strconv.Atoi(strings.TrimPrefix(string(b), "ssmtest:"))
		if err != nil || err2 != nil || !strings.HasPrefix(string(b), "ssmtest:") || n < 0 {
			return nil, &ec2Error{Code: "InvalidParameterValue", Message: fmt.Sprintf("Invalid value '%s' for nextToken", tok)}
		}
		start = n
	}
	var known []Instance
	for _, in := range s.opts.Instances {
		if strings.HasPrefix(in.ID, "i-") {
			known = append(known, in)
		}
	}
	slices.SortFunc(known, func(a, b Instance) int { return strings.Compare(a.ID, b.ID) })
	var notFound []string
	for _, id := range ids {
		if !ec2InstanceID.MatchString(id) {
			return nil, &ec2Error{Code: "InvalidInstanceID.Malformed", Message: fmt.Sprintf("Invalid id: %q", id)}
		}
		if !slices.ContainsFunc(known, func(in Instance) bool { return in.ID == id }) {
			notFound = append(notFound, id)
		}
	}
	if len(notFound) > 0 {
		return nil, &ec2Error{Code: "InvalidInstanceID.NotFound", Message: fmt.Sprintf("The instance IDs '%s' do not exist", strings.Join(notFound, ", "))}
	}
	var match []Instance
	for _, in := range known {
		if len(ids) > 0 && !slices.Contains(ids, in.ID) {
			continue
		}
		ok, err := ec2Matches(&in, filters)
		if err != nil {
			return nil, err
		}
		if ok {
			match = append(match, in)
		}
	}
	out := &describeInstancesResponse{}
	if start > len(match) {
		start = len(match)
	}
	end := len(match)
	if maxResults > 0 && start+maxResults < end {
		end = start + maxResults
		out.NextToken = base64.RawURLEncoding.EncodeToString([]byte("ssmtest:" + strconv.Itoa(end)))
	}
	for _, in := range match[start:end] {
		out.Reservations = append(out.Reservations, ec2Reservation{
			ReservationID: "r-" + strings.TrimPrefix(in.ID, "i-"),
			OwnerID:       DefaultAccountID,
			Instances:     []ec2Instance{toEC2(&in)},
		})
	}
	return out, nil
}

// ec2Matches applies DescribeInstances filters: every filter must match one of its values.
func ec2Matches(in *Instance, filters []ec2Filter) (bool, error) {
	for _, f := range filters {
		var have []string
		switch {
		case f.Name == "instance-id":
			have = []string{in.ID}
		case f.Name == "private-ip-address":
			have = []string{in.IPAddress}
		case f.Name == "private-dns-name":
			have = []string{in.PrivateDNSName}
		case f.Name == "instance-state-name":
			have = []string{in.ec2State()}
		case f.Name == "tag-key":
			for k := range in.Tags {
				have = append(have, k)
			}
		case strings.HasPrefix(f.Name, "tag:"):
			v, ok := in.Tags[strings.TrimPrefix(f.Name, "tag:")]
			if !ok {
				return false, nil
			}
			have = []string{v}
		default:
			return false, &ec2Error{Code: "InvalidParameterValue", Message: fmt.Sprintf("The filter '%s' is invalid", f.Name)}
		}
		if !slices.ContainsFunc(f.Values, func(v string) bool { return slices.Contains(have, v) }) {
			return false, nil
		}
	}
	return true, nil
}

// ec2State is the EC2 state of an instance: an agent that answers runs on a running instance.
func (in *Instance) ec2State() string {
	if in.PingStatus == "Online" || in.PingStatus == "ConnectionLost" {
		return "running"
	}
	return "stopped"
}

func toEC2(in *Instance) ec2Instance {
	out := ec2Instance{
		InstanceID:       in.ID,
		ImageID:          "ami-0123456789abcdef0",
		StateName:        in.ec2State(),
		PrivateDNSName:   in.PrivateDNSName,
		PrivateIPAddress: in.IPAddress,
		InstanceType:     "t3.micro",
		Platform:         "Linux/UNIX",
	}
	out.StateCode = 16
	if out.StateName != "running" {
		out.StateCode = 80
	}
	if in.PlatformType == "Windows" {
		out.Platform = "Windows"
	}
	for k, v := range in.Tags {
		out.Tags = append(out.Tags, ec2Tag{k, v})
	}
	slices.SortFunc(out.Tags, func(a, b ec2Tag) int { return strings.Compare(a.Key, b.Key) })
	return out
}

package session

import (
	"strings"
)

// partition is one AWS partition's region names and DNS suffixes, from the endpoint data of aws-sdk-go-v2
// (internal/endpoints/awsrulesfn/partitions.json).
type partition struct {
	regions   []string // region names are PREFIX-[a-z0-9]+-[0-9]+ for one of these prefixes
	dns       string   // regional endpoints: <service>.<region>.<dns>
	dualStack string   // dual-stack endpoints: <service>.<region>.<dualStack>
}

// partitions: the regionRegex of each partition is ^(PREFIX|...)-\w+-\d+$ (spelled [a-z0-9] here, as DNS
// names are lower-cased first). Plain prefixes rather than compiled regular expressions: package variables
// are built in every program that links the package, and these are needed once per session.
var partitions = []partition{
	{[]string{"us", "eu", "ap", "sa", "ca", "me", "af", "il", "mx"}, "amazonaws.com", "api.aws"}, // aws
	{[]string{"us-gov"}, "amazonaws.com", "api.aws"},                                             // aws-us-gov
	{[]string{"cn"}, "amazonaws.com.cn", "api.amazonwebservices.com.cn"},                         // aws-cn
	{[]string{"eusc-de"}, "amazonaws.eu", "api.amazonwebservices.eu"},                            // aws-eusc
	{[]string{"us-iso"}, "c2s.ic.gov", "api.aws.ic.gov"},                                         // aws-iso
	{[]string{"us-isob"}, "sc2s.sgov.gov", "api.aws.scloud"},                                     // aws-iso-b
	{[]string{"eu-isoe"}, "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"},                            // aws-iso-e
	{[]string{"us-isof"}, "csp.hci.ic.gov", "api.aws.hci.ic.gov"},                                // aws-iso-f
}

// hasRegion reports whether region is a region name of p: one of its prefixes, "-", a name of lower-case
// letters and digits, "-", and a number.
func (p partition) hasRegion(region string) bool {
	for _, prefix := range p.regions {
		rest, ok := strings.CutPrefix(region, prefix+"-")
		if !ok {
			continue
		}
		name, num, ok := strings.Cut(rest, "-")
		if ok && name != "" && num != "" && strings.Trim(name, "abcdefghijklmnopqrstuvwxyz0123456789") == "" &&
			strings.Trim(num, "0123456789") == "" {
			return true
		}
	}
	return false
}

// ssmMessagesRegion reports whether host (lower case, no port, no trailing dot) is an AWS Session Manager
// data-channel endpoint, and of which region:
//
//	ssmmessages.<region>.<dns>            ssmmessages-fips.<region>.<dns>
//	ssmmessages.<region>.<dual-stack>     ssmmessages-fips.<region>.<dual-stack>
//	<vpce-name>.ssmmessages.<region>.vpce.<dns>   (an interface VPC endpoint's DNS name)
//
// where <region> must be a region of the partition whose suffix follows it.
func ssmMessagesRegion(host string) (string, bool) {
	labels := strings.Split(host, ".")
	for _, l := range labels {
		if !isLDHLabel(l) {
			return "", false
		}
	}
	if len(labels) < 3 {
		return "", false
	}
	region := labels[1]
	rest := strings.Join(labels[2:], ".")
	switch labels[0] {
	case "ssmmessages", "ssmmessages-fips":
		for _, p := range partitions {
			if (rest == p.dns || rest == p.dualStack) && p.hasRegion(region) {
				return region, true
			}
		}
		return "", false
	}
	// <vpce-name>.ssmmessages.<region>.vpce.<dns>
	if len(labels) < 5 || labels[1] != "ssmmessages" || labels[3] != "vpce" {
		return "", false
	}
	region, rest = labels[2], strings.Join(labels[4:], ".")
	for _, p := range partitions {
		if rest == p.dns && p.hasRegion(region) {
			return region, true
		}
	}
	return "", false
}

// isLDHLabel reports whether l is a DNS label of lower-case letters, digits and inner hyphens.
func isLDHLabel(l string) bool {
	if l == "" || len(l) > 63 || l[0] == '-' || l[len(l)-1] == '-' {
		return false
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '-') {
			return false
		}
	}
	return true
}

// regionOf returns the region of an AWS Session Manager endpoint host, or "".
func regionOf(host string) string {
	r, _ := ssmMessagesRegion(strings.ToLower(host))
	return r
}

package session

import (
	"regexp"
	"strings"
)

// partition is one AWS partition's region names and DNS suffixes, from the endpoint data of aws-sdk-go-v2
// (internal/endpoints/awsrulesfn/partitions.json).
type partition struct {
	region    *regexp.Regexp
	dns       string // regional endpoints: <service>.<region>.<dns>
	dualStack string // dual-stack endpoints: <service>.<region>.<dualStack>
}

var partitions = []partition{
	{regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx)-[a-z0-9]+-[0-9]+$`), "amazonaws.com", "api.aws"}, // aws
	{regexp.MustCompile(`^us-gov-[a-z0-9]+-[0-9]+$`), "amazonaws.com", "api.aws"},                       // aws-us-gov
	{regexp.MustCompile(`^cn-[a-z0-9]+-[0-9]+$`), "amazonaws.com.cn", "api.amazonwebservices.com.cn"},   // aws-cn
	{regexp.MustCompile(`^eusc-de-[a-z0-9]+-[0-9]+$`), "amazonaws.eu", "api.amazonwebservices.eu"},      // aws-eusc
	{regexp.MustCompile(`^us-iso-[a-z0-9]+-[0-9]+$`), "c2s.ic.gov", "api.aws.ic.gov"},                   // aws-iso
	{regexp.MustCompile(`^us-isob-[a-z0-9]+-[0-9]+$`), "sc2s.sgov.gov", "api.aws.scloud"},               // aws-iso-b
	{regexp.MustCompile(`^eu-isoe-[a-z0-9]+-[0-9]+$`), "cloud.adc-e.uk", "api.cloud-aws.adc-e.uk"},      // aws-iso-e
	{regexp.MustCompile(`^us-isof-[a-z0-9]+-[0-9]+$`), "csp.hci.ic.gov", "api.aws.hci.ic.gov"},          // aws-iso-f
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
			if (rest == p.dns || rest == p.dualStack) && p.region.MatchString(region) {
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
		if rest == p.dns && p.region.MatchString(region) {
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

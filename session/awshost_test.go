package session

import (
	"regexp"
	"strings"
	"testing"
)

// TestPartitionRegions: each partition's region check accepts exactly what the partition's regionRegex in the
// SDK's partitions.json accepts (lower case, as hosts are lower-cased first).
func TestPartitionRegions(t *testing.T) {
	regexes := []*regexp.Regexp{
		regexp.MustCompile(`^(us|eu|ap|sa|ca|me|af|il|mx)-[a-z0-9]+-[0-9]+$`),
		regexp.MustCompile(`^us-gov-[a-z0-9]+-[0-9]+$`),
		regexp.MustCompile(`^cn-[a-z0-9]+-[0-9]+$`),
		regexp.MustCompile(`^eusc-de-[a-z0-9]+-[0-9]+$`),
		regexp.MustCompile(`^us-iso-[a-z0-9]+-[0-9]+$`),
		regexp.MustCompile(`^us-isob-[a-z0-9]+-[0-9]+$`),
		regexp.MustCompile(`^eu-isoe-[a-z0-9]+-[0-9]+$`),
		regexp.MustCompile(`^us-isof-[a-z0-9]+-[0-9]+$`),
	}
	if len(regexes) != len(partitions) {
		t.Fatalf("%d partitions, %d regular expressions", len(partitions), len(regexes))
	}
	regions := []string{
		"us-east-1", "eu-central-2", "ap-southeast-5", "mx-central-1", "il-central-1", "us-gov-west-1",
		"cn-north-1", "cn-northwest-1", "eusc-de-east-1", "us-iso-east-1", "us-isob-east-1", "eu-isoe-west-1",
		"us-isof-south-1", "us-east-12", "us-3east-1",
		"", "us", "us-", "us-east", "us-east-", "us--1", "-east-1", "us-east-1a", "us-east-1-", "us-ea_st-1",
		"us-east--1", "us-gov-west", "us-gov--1", "xx-east-1", "usa-east-1", "us-gov-west-1-1", "cn-north-x",
		"eusc-east-1", "eusc-de-1", "us-isob", "us-isoc-east-1", "us east-1", "us-east-1\n",
	}
	for i, p := range partitions {
		for _, r := range regions {
			if got, want := p.hasRegion(r), regexes[i].MatchString(r); got != want {
				t.Errorf("partition %s: hasRegion(%q) = %v, the regular expression says %v", strings.Join(p.regions, "|"), r, got, want)
			}
		}
	}
}

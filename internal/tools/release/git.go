package release

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Source is the commit a release is built from.
type Source struct {
	// Describe is `git describe --tags --always --dirty`, e.g. "v1.3.0-4-g1a2b3c4" or "1a2b3c4-dirty".
	Describe string
	// Version is the four-part numeric version derived from Describe ([NumericVersion]).
	Version string
	// Time is the commit time, or SOURCE_DATE_EPOCH when the environment sets it. Every timestamp in the
	// artifacts is this time.
	Time time.Time
}

// GitInfo reads the Source of the repository at root.
func GitInfo(ctx context.Context, root string) (Source, error) {
	describe, err := git(ctx, root, "describe", "--tags", "--always", "--dirty")
	if err != nil {
		return Source{}, err
	}
	count, err := git(ctx, root, "rev-list", "--count", "HEAD")
	if err != nil {
		return Source{}, err
	}
	n, err := strconv.Atoi(count)
	if err != nil {
		return Source{}, fmt.Errorf("release: git rev-list --count: %q is not a number", count)
	}
	version, err := NumericVersion(describe, n)
	if err != nil {
		return Source{}, err
	}
	epoch := os.Getenv("SOURCE_DATE_EPOCH")
	if epoch == "" {
		if epoch, err = git(ctx, root, "log", "-1", "--format=%ct"); err != nil {
			return Source{}, err
		}
	}
	secs, err := strconv.ParseInt(epoch, 10, 64)
	if err != nil || secs < 0 {
		return Source{}, fmt.Errorf("release: commit time (SOURCE_DATE_EPOCH) %q is not a Unix time", epoch)
	}
	return Source{Describe: describe, Version: version, Time: time.Unix(secs, 0).UTC()}, nil
}

func git(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("release: git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(string(out)), nil
}

// baseVersion is the version of untagged commits, before the commit count.
const baseVersion = "1.3.0"

// minVersion is the version the plugin's must exceed: the AWS CLI passes the StartSession response through
// the environment only to later plugins, and agents turn smux keepalive off for clients after 1.2.331.0.
var minVersion = [4]int{1, 2, 497, 0}

var describeRE = regexp.MustCompile(`^v?(\d+)\.(\d+)\.(\d+)(?:\.(\d+))?(?:-(\d+)-g[0-9a-f]+)?(?:-dirty)?$`)

// NumericVersion derives the four-part version `session-manager-plugin --version` prints (the AWS CLI accepts
// only digits and dots there) from git describe: tag vA.B.C with N commits since gives A.B.C.N, tag vA.B.C.D
// gives A.B.C.D+N; without a tag (describe is a commit hash) it is 1.3.0.COUNT, COUNT being the number of
// commits (git rev-list --count HEAD), so that later commits have later versions.
func NumericVersion(describe string, count int) (string, error) {
	var parts [4]int
	if m := describeRE.FindStringSubmatch(describe); m != nil {
		for i := range 4 {
			parts[i], _ = strconv.Atoi(m[i+1]) // "" (no fourth part) is 0
		}
		since, _ := strconv.Atoi(m[5])
		parts[3] += since
	} else {
		if strings.HasPrefix(describe, "v") && strings.ContainsAny(describe, ".") {
			return "", fmt.Errorf("release: tag in %q is not vMAJOR.MINOR.PATCH[.BUILD]", describe)
		}
		for i, s := range strings.Split(baseVersion, ".") {
			parts[i], _ = strconv.Atoi(s)
		}
		parts[3] = count
	}
	if !later(parts, minVersion) {
		return "", errors.New("release: version " + join(parts) + " must be later than 1.2.497.0 (see internal/version)")
	}
	return join(parts), nil
}

func later(a, b [4]int) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] > b[i]
		}
	}
	return false
}

func join(p [4]int) string { return fmt.Sprintf("%d.%d.%d.%d", p[0], p[1], p[2], p[3]) }

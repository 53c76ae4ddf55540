package agent

import (
	"fmt"
	"strconv"
	"strings"
)

// compareVersions compares dotted versions numerically per component; a missing component counts as
// smaller than a present one ("1.2" < "1.2.0"), as the agent's versionutil does for non-semver strings.
func compareVersions(a, b string) int {
	as, bs := strings.Split(a, "."), strings.Split(b, ".")
	for i := 0; i < len(as) && i < len(bs); i++ {
		x, _ := strconv.Atoi(strings.TrimSpace(as[i]))
		y, _ := strconv.Atoi(strings.TrimSpace(bs[i]))
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	switch {
	case len(as) < len(bs):
		return -1
	case len(as) > len(bs):
		return 1
	}
	return 0
}

// prop returns a document property as a string ("" when absent); lists are joined with newlines.
func prop(props map[string]any, name string) string {
	v, ok := props[name]
	if !ok || v == nil {
		return ""
	}
	switch v := v.(type) {
	case string:
		return v
	case []any:
		parts := make([]string, len(v))
		for i, p := range v {
			parts[i] = fmt.Sprint(p)
		}
		return strings.Join(parts, "\n")
	case []string:
		return strings.Join(v, "\n")
	case float64:
		return strconv.FormatFloat(v, 'f', -1, 64)
	default:
		return fmt.Sprint(v)
	}
}

func boolProp(props map[string]any, name string) bool {
	switch v := props[name].(type) {
	case bool:
		return v
	case string:
		b, _ := strconv.ParseBool(strings.TrimSpace(v))
		return b
	}
	return false
}

// commandProps reads the commands and separateOutputStream properties of an (Non)InteractiveCommands
// document, from its "linux" block when it has one (the managed documents do), else from the top level.
func commandProps(props map[string]any) (commands string, separate bool) {
	if linux, ok := props["linux"].(map[string]any); ok {
		props = linux
	}
	return prop(props, "commands"), boolProp(props, "separateOutputStream")
}

package plugincli

import (
	"fmt"
	"strconv"

	"github.com/ssmwire/ssmwire"
)

// Environment variables that opt in to larger data messages or a larger bound on unacknowledged bytes than
// the defaults the service is known to accept (1 KiB, 256 KiB; ssmwire.DefaultMaxPayload, DefaultWindow).
// The AWS CLI starts the plugin, so the environment is the only way to reach it.
const (
	envMaxPayload = "SSMWIRE_MAX_PAYLOAD"
	envWindow     = "SSMWIRE_WINDOW"
)

// pacing reads the opt-in variables into cfg. A set variable must be a positive whole number of bytes, and
// the two together must make a valid session configuration (MaxPayload at least 64 bytes and within the
// protocol's message limit, Window at least MaxPayload).
func pacing(env Env, cfg *ssmwire.ChannelConfig) error {
	set := false
	for _, v := range []struct {
		name string
		dst  *int
	}{{envMaxPayload, &cfg.MaxPayload}, {envWindow, &cfg.Window}} {
		s, ok := env.Lookup(v.name)
		if !ok || s == "" {
			continue
		}
		n, err := strconv.Atoi(s)
		if err != nil || n <= 0 {
			return fmt.Errorf("%s=%q: want a positive number of bytes", v.name, s)
		}
		*v.dst = n
		set = true
	}
	if err := cfg.Validate(); set && err != nil {
		return fmt.Errorf("%s / %s: %w", envMaxPayload, envWindow, err)
	}
	return nil
}

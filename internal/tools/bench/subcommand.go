package bench

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
)

// subcommand is what the subcommands with reports of their own (`ssmbench cp`, `pool`, `idle`) share: a flag
// set named after the subcommand, its errors prefixed with that name on stderr, and the report's opening and
// closing lines (the machine, the load average at the start and at the end, the time the run took).
type subcommand struct {
	name   string // "ssmbench cp"
	flags  *flag.FlagSet
	stderr io.Writer
	start  time.Time // set by header
	load   string    // load average at header
}

func newSubcommand(name string, stderr io.Writer) *subcommand {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return &subcommand{name: name, flags: fs, stderr: stderr}
}

// parse parses args into the flags. When ok is false the caller returns code at once: 0 after -h, 2 after a
// usage error (the flag package has printed it).
func (c *subcommand) parse(args []string) (code int, ok bool) {
	if err := c.flags.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return 0, false
		}
		return 2, false
	}
	return 0, true
}

// counts parses a comma-separated list of whole numbers from 1 to most given as -n (a list of session counts).
// ok is false after it has printed the usage error.
func (c *subcommand) counts(list string, most int) (ns []int, ok bool) {
	for _, s := range strings.Split(list, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(s))
		if err != nil || n < 1 || n > most {
			c.errorf("-n %q: want numbers from 1 to %d", list, most)
			return nil, false
		}
		ns = append(ns, n)
	}
	return ns, true
}

// errorf prints one error line on stderr, prefixed with the subcommand's name.
func (c *subcommand) errorf(format string, args ...any) {
	fmt.Fprintf(c.stderr, "%s: %s\n", c.name, fmt.Sprintf(format, args...))
}

// cpuProfile profiles this process's CPU into the file at path until the returned stop is called; with an
// empty path it does nothing.
func cpuProfile(path string) (stop func(), err error) {
	if path == "" {
		return func() {}, nil
	}
	f, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, err
	}
	return func() { pprof.StopCPUProfile(); f.Close() }, nil
}

// header prints the report's first line, made of format and args, and the machine's line, and starts the
// clock and takes the load average that footer reports.
func (c *subcommand) header(w io.Writer, format string, args ...any) {
	fmt.Fprintf(w, format+"\n", args...)
	fmt.Fprintf(w, "machine: %s\n", machineLine())
	c.start = time.Now()
	c.load = loadAverage()
}

// footer prints the load average at the header and now, and the time since the header.
func (c *subcommand) footer(w io.Writer) {
	fmt.Fprintf(w, "\nload average (1, 5, 15 min): %s at the start, %s at the end; %.0f s\n", c.load, loadAverage(), time.Since(c.start).Seconds())
}

// machineLine is the machine part of the report header.
func machineLine() string {
	m := ThisMachine()
	return fmt.Sprintf("%d CPUs, %s, %s, %s", m.CPUs, m.CPUModel, m.GoVersion, m.OS)
}

func mibText(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }

// emulatorText names where the emulator runs: in this process, or the ssmtest process at endpoint (-endpoint).
func emulatorText(endpoint string) string {
	if endpoint != "" {
		return "the ssmtest process at " + endpoint
	}
	return "an emulator in this process"
}

// endpointConfig is an SDK configuration for the ssmtest process at endpoint (-endpoint), signed with the
// access key id and its secret.
func endpointConfig(endpoint, id, secret string) aws.Config {
	return aws.Config{
		Region:       region,
		Credentials:  credentials.NewStaticCredentialsProvider(id, secret, ""),
		BaseEndpoint: aws.String(endpoint),
	}
}

// scaling compares rate, the rate of n sessions together, with n times one, the rate of one session (0 while
// it is not known): the ratio as text ("-" without one), marked with "*" and short true below goal.
func scaling(rate, one float64, n int, goal float64) (text string, short bool) {
	if one <= 0 {
		return "-", false
	}
	q := rate / (float64(n) * one)
	text = fmt.Sprintf("%.2f", q)
	if q < goal {
		return text + "*", true
	}
	return text, false
}

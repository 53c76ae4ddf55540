package bench

import (
	"bytes"
	"context"
	"crypto/rand"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/filecopy"
	"github.com/ssmwire/ssmwire/ssmtest"
)

// CpMain runs `ssmbench cp`: one download of a random file with filecopy.From (what `ssmwire cp
// --sessions N TARGET:PATH DEST` does) for each N, against the emulator with the agent paced like the real
// one, next to one session's rate. The agent paces each session's output, so N sessions reading N ranges
// should approach N times one session's rate (issue 21's goal: at least 0.8·N for N = 4); with -repeat the
// copies go round the Ns in turn and medians are reported. The time is the whole copy:
// the stat session, the N range sessions (each started, run and checked) and the final SHA-256 of the file.
// An upload (filecopy.To, one session) of the same file is measured once for reference.
func CpMain(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	c := newSubcommand("ssmbench cp", stderr)
	fs := c.flags
	ns := fs.String("n", "1,2,4", "comma-separated session counts `N`")
	size := sizeFlag(8 << 20)
	fs.Var(&size, "size", "bytes of the file copied")
	pacing := fs.Bool("pacing", true, "agent paces like the real one (1 KiB per message, 1 ms sleep)")
	repeat := fs.Int("repeat", 1, "copies per N; the median rate is reported")
	upload := fs.Bool("upload", true, "also measure one upload")
	endpoint := fs.String("endpoint", "", "`URL` of an ssmtest running in another process on this machine (started without -no-pacing), instead of an emulator in this one")
	if code, ok := c.parse(args); !ok {
		return code
	}
	counts, ok := c.counts(*ns, filecopy.MaxSessions)
	if !ok {
		return 2
	}
	if *repeat < 1 || size <= 0 {
		c.errorf("-repeat and -size must be positive")
		return 2
	}
	b, err := newCpBench(int64(size), *pacing, *endpoint)
	if err != nil {
		c.errorf("%v", err)
		return 1
	}
	defer b.close()

	c.header(stdout, "ssmbench cp -n %s -size %d -pacing=%v -repeat %d: ssmwire cp --sessions N of a %s file from %s",
		*ns, int64(size), *pacing, *repeat, mibText(int64(size)), emulatorText(*endpoint))
	fmt.Fprintf(stdout, "\n%4s %8s %12s %12s %12s\n", "N", "ranges", "MiB/s", "per session", "÷(N × N=1)")
	var one, four float64
	// Repetitions go round the Ns in turn, so that a change in the machine's load touches every N alike.
	rates := make([][]float64, len(counts))
	for range *repeat {
		for i, n := range counts {
			r, err := b.download(ctx, n)
			if err != nil {
				c.errorf("N=%d: %v", n, err)
				return 1
			}
			rates[i] = append(rates[i], r)
		}
	}
	for i, n := range counts {
		rate := median(rates[i])
		if one == 0 && n == 1 {
			one = rate
		}
		if n == 4 {
			four = rate
		}
		ranges := min(int64(n), max(1, int64(size)/filecopy.DefaultMinRange))
		ratio, _ := scaling(rate, one, n, 0.8)
		fmt.Fprintf(stdout, "%4d %8d %12.2f %12.2f %12s\n", n, ranges, rate, rate/float64(n), ratio)
	}
	if *upload {
		r, err := b.upload(ctx)
		if err != nil {
			c.errorf("upload: %v", err)
			return 1
		}
		fmt.Fprintf(stdout, "\nupload (one session, pseudo-terminal): %.2f MiB/s\n", r)
	}
	c.footer(stdout)
	fmt.Fprintln(stdout, "*: less than 0.8·N times one session's rate")
	if one > 0 && four > 0 {
		verdict := "met"
		if four < 0.8*4*one {
			verdict = "not met"
		}
		fmt.Fprintf(stdout, "goal (issue 21: N=4 at least 0.8·4 times N=1) %s: %.2f\n", verdict, four/(4*one))
	}
	return 0
}

// cpBench is one emulator, a client for it and a directory with the source file.
type cpBench struct {
	srv    *ssmtest.Server // nil with -endpoint
	client *ssmwire.Client
	dir    string
	src    string
	data   []byte
}

func newCpBench(size int64, pacing bool, endpoint string) (*cpBench, error) {
	dir, err := os.MkdirTemp("", "ssmbench-cp-")
	if err != nil {
		return nil, err
	}
	b := &cpBench{dir: dir, data: make([]byte, size)}
	rand.Read(b.data)
	b.src = filepath.Join(dir, "source.bin")
	if err := os.WriteFile(b.src, b.data, 0o644); err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	if endpoint != "" {
		// The emulator's own key: it verifies the data channel's signature only for keys it knows.
		b.client = ssmwire.NewFromAWSConfig(endpointConfig(endpoint, ssmtest.DefaultAccessKeyID, ssmtest.DefaultSecretAccessKey))
		return b, nil
	}
	b.srv = ssmtest.NewServer(&ssmtest.Options{NoPacing: !pacing})
	b.client = ssmwire.NewFromAWSConfig(b.srv.AWSConfig())
	return b, nil
}

func (b *cpBench) close() {
	if b.srv != nil {
		b.srv.Close()
	}
	os.RemoveAll(b.dir)
}

// download copies the source file with n sessions, checks the copy and returns MiB/s.
func (b *cpBench) download(ctx context.Context, n int) (float64, error) {
	dst := filepath.Join(b.dir, "download.bin")
	defer os.Remove(dst)
	begin := time.Now()
	if err := filecopy.From(ctx, b.client, ssmtest.DefaultInstanceID, b.src, dst, &filecopy.Config{Sessions: n}); err != nil {
		return 0, err
	}
	el := time.Since(begin)
	return b.check(dst, el)
}

// upload copies the source file to the target with one session, checks it and returns MiB/s.
func (b *cpBench) upload(ctx context.Context) (float64, error) {
	dst := filepath.Join(b.dir, "upload.bin")
	defer os.Remove(dst)
	begin := time.Now()
	if err := filecopy.To(ctx, b.client, ssmtest.DefaultInstanceID, b.src, dst, nil); err != nil {
		return 0, err
	}
	return b.check(dst, time.Since(begin))
}

func (b *cpBench) check(path string, el time.Duration) (float64, error) {
	got, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	if !bytes.Equal(got, b.data) {
		return 0, fmt.Errorf("%s differs from the source", path)
	}
	return float64(len(b.data)) / (1 << 20) / el.Seconds(), nil
}

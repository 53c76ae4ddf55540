package doctor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire"
	"github.com/ssmwire/ssmwire/ecsexec"
)

// roundTripMarker is what the session check asks the shell to print; the command spells it so that the
// terminal's echo of the command does not contain it.
const roundTripMarker = "ssmwire-doctor-ok"

// channel is the part of a session's data channel the round trip uses.
type channel interface {
	ReadContext(ctx context.Context, p []byte) (int, error)
	WriteContext(ctx context.Context, p []byte) (int, error)
}

// session starts a real shell session on the target, waits for the agent's handshake, makes one round trip
// through the shell, and terminates the session, timing each step. An ecs:CLUSTER/TASK target gets an ECS
// Exec session running echo instead, whose output is the round trip.
func (d *run) session(ctx context.Context) []Result {
	if d.cfg.Target == "" {
		return skip(CheckSession, "no TARGET given")
	}
	if why := d.apiReady(); why != "" {
		return skip(CheckSession, why)
	}
	if d.tgt == nil {
		return skip(CheckSession, "the target check failed")
	}
	r := Result{Check: CheckSession, Details: map[string]string{"target": d.tgt.id}}
	client, err := ssmwire.New(&ssmwire.Config{SSM: d.ssmClient(), KMS: d.kmsClient(), Logger: d.log})
	if err != nil {
		r.Status, r.Err, r.Message = Fail, err, err.Error()
		return one(r)
	}
	fail := func(step string, err error) []Result {
		r.Status, r.Err = Fail, err
		r.Message = fmt.Sprintf("%s failed after %s: %v", step, r.Steps[len(r.Steps)-1].Duration.Round(time.Millisecond), err)
		var ae *ssmwire.APIError
		if errors.As(ssmwire.Classify(err), &ae) {
			r.Fix = ae.Advice(d.profile)
		} else {
			r.Fix = "see the checks above; run again with --debug to see the data channel's messages"
		}
		return one(r)
	}
	step := func(name string, fn func(ctx context.Context) error) error {
		sctx, cancel := context.WithTimeout(ctx, d.cfg.Timeout)
		defer cancel()
		start := time.Now()
		err := fn(sctx)
		r.Steps = append(r.Steps, Step{Name: name, Duration: time.Since(start), Err: err})
		return err
	}

	var s *ssmwire.Session
	start := "StartSession"
	if d.tgt.ecs != nil {
		start = "ECS ExecuteCommand"
	}
	if err := step("start", func(ctx context.Context) (err error) {
		if d.tgt.ecs != nil {
			s, err = ecsexec.Start(ctx, client, d.ecsClient(), *d.tgt.ecs, "echo "+roundTripMarker)
			return err
		}
		s, err = client.StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(d.tgt.id)})
		return err
	}); err != nil {
		return fail(start, err)
	}
	defer s.Close()
	r.Details["session_id"] = s.ID()
	if err := step("handshake", func(ctx context.Context) error {
		hs, err := s.Ready(ctx)
		if err == nil && hs != nil && hs.AgentVersion != "" {
			r.Details["agent_version"] = hs.AgentVersion
		}
		return err
	}); err != nil {
		return fail("the handshake", err)
	}
	if err := step("round trip", func(ctx context.Context) error { return d.roundTrip(ctx, s) }); err != nil {
		return fail("the round trip", err)
	}
	if err := step("terminate", s.Terminate); err != nil {
		return fail("TerminateSession", err)
	}
	r.Status = Pass
	parts := make([]string, len(r.Steps))
	for i, st := range r.Steps {
		parts[i] = fmt.Sprintf("%s %s", st.Name, st.Duration.Round(time.Millisecond))
	}
	r.Message = fmt.Sprintf("session %s on %s: %s", s.ID(), d.tgt.id, strings.Join(parts, ", "))
	return one(r)
}

// roundTrip has the shell print the marker and reads until it arrives.
func (d *run) roundTrip(ctx context.Context, s *ssmwire.Session) error {
	ch, ok := any(s.Channel()).(channel)
	if !ok {
		return errors.New("doctor: the session's channel has no ReadContext/WriteContext")
	}
	// ECS Exec ran the command that prints the marker; a shell gets it as input.
	if d.tgt.ecs == nil {
		cmd := "echo ssmwire-doctor-'ok'\n"
		if strings.EqualFold(d.tgt.platformType, "Windows") {
			cmd = "Write-Output ('ssmwire-doctor-' + 'ok')\r\n"
		}
		if _, err := ch.WriteContext(ctx, []byte(cmd)); err != nil {
			return fmt.Errorf("send: %w", err)
		}
	}
	var seen []byte
	buf := make([]byte, 4096)
	for !bytes.Contains(seen, []byte(roundTripMarker)) {
		n, err := ch.ReadContext(ctx, buf)
		if err != nil {
			return fmt.Errorf("no answer from the shell: %w", err)
		}
		seen = append(seen, buf[:n]...)
		if len(seen) > 64<<10 {
			seen = seen[len(seen)-len(roundTripMarker):]
		}
	}
	return nil
}

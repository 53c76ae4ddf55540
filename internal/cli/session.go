package cli

import (
	"context"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ssmwire/ssmwire/session"
)

// terminateTimeout bounds TerminateSession when a session is abandoned, also after ctx was cancelled.
const terminateTimeout = 10 * time.Second

// ecsSessionInfo is the data channel of an ECS ExecuteCommand response.
func ecsSessionInfo(out *ecs.ExecuteCommandOutput) session.Info {
	return session.Info{
		SessionID:  aws.ToString(out.Session.SessionId),
		StreamURL:  aws.ToString(out.Session.StreamUrl),
		TokenValue: aws.ToString(out.Session.TokenValue),
	}
}

// terminate ends a session this package opened itself: one still running is terminated on the service (with a
// context that outlives a cancelled ctx), then the connection is closed.
func terminate(ctx context.Context, s *session.Session) {
	select {
	case <-s.Done():
	default:
		ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), terminateTimeout)
		defer cancel()
		s.Terminate(ctx)
	}
	s.Close()
}

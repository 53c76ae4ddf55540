package cli

import (
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"

	"github.com/ssmwire/ssmwire/session"
)

// ecsSessionInfo is the data channel of an ECS ExecuteCommand response.
func ecsSessionInfo(out *ecs.ExecuteCommandOutput) session.Info {
	return session.Info{
		SessionID:  aws.ToString(out.Session.SessionId),
		StreamURL:  aws.ToString(out.Session.StreamUrl),
		TokenValue: aws.ToString(out.Session.TokenValue),
	}
}

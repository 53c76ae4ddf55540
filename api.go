package ssmwire

import (
	"context"
	"sync"

	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/ssm"

	"github.com/ssmwire/ssmwire/session"
)

// SSMAPI is the part of the Systems Manager API a [Client] calls, with the exact method signatures of
// *ssm.Client from aws-sdk-go-v2, so that tests can pass a fake. It includes [session.SSMClient].
type SSMAPI interface {
	StartSession(ctx context.Context, params *ssm.StartSessionInput, optFns ...func(*ssm.Options)) (*ssm.StartSessionOutput, error)
	ResumeSession(ctx context.Context, params *ssm.ResumeSessionInput, optFns ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error)
	TerminateSession(ctx context.Context, params *ssm.TerminateSessionInput, optFns ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error)
}

// LazySSM returns an SSM client that calls build on its first use and then forwards every call to what it
// built; a build error is returned by that call and every later one. It suits programs where most sessions
// never call the API (session-manager-plugin: the AWS CLI started the session) and a missing profile or
// region must only matter when a call is made.
func LazySSM(build func(ctx context.Context) (SSMAPI, error)) SSMAPI {
	return &lazySSM{lazy: lazy[SSMAPI]{build: build}}
}

// LazyKMS is [LazySSM] for the KMS client of encrypted sessions.
func LazyKMS(build func(ctx context.Context) (session.KMSClient, error)) session.KMSClient {
	return &lazyKMS{lazy: lazy[session.KMSClient]{build: build}}
}

// lazy builds a T once, on first use.
type lazy[T any] struct {
	build func(ctx context.Context) (T, error)
	once  sync.Once
	v     T
	err   error
}

func (l *lazy[T]) get(ctx context.Context) (T, error) {
	l.once.Do(func() { l.v, l.err = l.build(ctx) })
	return l.v, l.err
}

type lazySSM struct{ lazy[SSMAPI] }

func (l *lazySSM) StartSession(ctx context.Context, in *ssm.StartSessionInput, optFns ...func(*ssm.Options)) (*ssm.StartSessionOutput, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.StartSession(ctx, in, optFns...)
}

func (l *lazySSM) ResumeSession(ctx context.Context, in *ssm.ResumeSessionInput, optFns ...func(*ssm.Options)) (*ssm.ResumeSessionOutput, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.ResumeSession(ctx, in, optFns...)
}

func (l *lazySSM) TerminateSession(ctx context.Context, in *ssm.TerminateSessionInput, optFns ...func(*ssm.Options)) (*ssm.TerminateSessionOutput, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.TerminateSession(ctx, in, optFns...)
}

type lazyKMS struct{ lazy[session.KMSClient] }

func (l *lazyKMS) GenerateDataKey(ctx context.Context, in *kms.GenerateDataKeyInput, optFns ...func(*kms.Options)) (*kms.GenerateDataKeyOutput, error) {
	c, err := l.get(ctx)
	if err != nil {
		return nil, err
	}
	return c.GenerateDataKey(ctx, in, optFns...)
}

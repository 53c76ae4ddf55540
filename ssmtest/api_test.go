package ssmtest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/ecs"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	kmstypes "github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	ssmtypes "github.com/aws/aws-sdk-go-v2/service/ssm/types"

	"github.com/ssmwire/ssmwire/internal/testkit"
)

func rawPost(t *testing.T, s *Server, target string, hdr map[string]string) (int, http.Header, map[string]string) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodPost, s.URL+"/", strings.NewReader(`{"Target":"i-0123456789abcdef0"}`))
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	var body map[string]string
	json.Unmarshal(b, &body)
	return resp.StatusCode, resp.Header, body
}

func TestSigV4Required(t *testing.T) {
	s := newTestServer(t, nil, true)
	for _, tc := range []struct {
		name string
		hdr  map[string]string
		want string
	}{
		{"unsigned", nil, "MissingAuthenticationTokenException"},
		{"garbage", map[string]string{"Authorization": "Bearer x", "X-Amz-Date": "20240101T000000Z"}, "IncompleteSignatureException"},
		{"no date", map[string]string{"Authorization": "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64)}, "IncompleteSignatureException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			status, h, body := rawPost(t, s, "AmazonSSM.StartSession", tc.hdr)
			if status != http.StatusBadRequest || body["__type"] != tc.want || !strings.HasPrefix(h.Get("X-Amzn-ErrorType"), tc.want) {
				t.Errorf("got %d %v (X-Amzn-ErrorType %q), want 400 %s", status, body, h.Get("X-Amzn-ErrorType"), tc.want)
			}
		})
	}
	// A well-formed but unverifiable signature passes when no Credentials are configured.
	status, _, body := rawPost(t, s, "AmazonSSM.StartSession", map[string]string{
		"X-Amz-Date":    "20240101T000000Z",
		"Authorization": "AWS4-HMAC-SHA256 Credential=AK/20240101/us-east-1/ssm/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64),
	})
	if status != http.StatusOK || body["SessionId"] == "" {
		t.Errorf("well-formed signature: got %d %v", status, body)
	}
	if got := s.Stats().APIErrors; got != 3 {
		t.Errorf("APIErrors = %d, want 3", got)
	}
}

func TestSigV4Verified(t *testing.T) {
	s := newTestServer(t, &Options{Credentials: map[string]string{testAccessKey: testSecretKey}}, true)
	ctx := testkit.Context(t)
	in := &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID)}
	if _, err := ssmClient(s).StartSession(ctx, in); err != nil {
		t.Fatalf("correct secret: %v", err)
	}
	_, err := ssm.NewFromConfig(withSecret(s, "wrong-secret")).StartSession(ctx, in)
	if code := errorCode(err); code != "InvalidSignatureException" {
		t.Errorf("wrong secret: err %v, code %q", err, code)
	}
	cfg := s.AWSConfig()
	cfg.Credentials = aws.NewCredentialsCache(aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: "AKIDUNKNOWN", SecretAccessKey: "x"}, nil
	}))
	_, err = ssm.NewFromConfig(cfg).StartSession(ctx, in)
	if code := errorCode(err); code != "UnrecognizedClientException" {
		t.Errorf("unknown key: err %v, code %q", err, code)
	}
	// Every service verifies: KMS and ECS too.
	if _, err := kmsClient(s).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("alias/k"), NumberOfBytes: aws.Int32(64)}); err != nil {
		t.Errorf("kms: %v", err)
	}
	if _, err := ecsClient(s).ExecuteCommand(ctx, &ecs.ExecuteCommandInput{Task: aws.String("t1"), Command: aws.String("sh"), Interactive: true}); err != nil {
		t.Errorf("ecs: %v", err)
	}
}

func TestStartSessionErrors(t *testing.T) {
	s := newTestServer(t, &Options{Instances: []Instance{{ID: "i-00000000000000off", PingStatus: "ConnectionLost"}}}, true)
	c := ssmClient(s)
	for _, tc := range []struct {
		name string
		in   ssm.StartSessionInput
		want string
	}{
		{"unknown instance", ssm.StartSessionInput{Target: aws.String("i-0fffffffffffffff0")}, "TargetNotConnected"},
		{"offline instance", ssm.StartSessionInput{Target: aws.String("i-00000000000000off")}, "TargetNotConnected"},
		{"malformed target", ssm.StartSessionInput{Target: aws.String("server-1")}, "InvalidTarget"},
		{"malformed ecs target", ssm.StartSessionInput{Target: aws.String("ecs:cluster_task")}, "InvalidTarget"},
		{"unknown document", ssm.StartSessionInput{Target: aws.String(DefaultInstanceID), DocumentName: aws.String("Nope")}, "InvalidDocument"},
		{"missing parameter", ssm.StartSessionInput{Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocInteractiveCommand)}, "ValidationException"},
		{"unknown parameter", ssm.StartSessionInput{Target: aws.String(DefaultInstanceID), DocumentName: aws.String(DocSSH),
			Parameters: map[string][]string{"bogus": {"1"}}}, "InvalidParameters"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.StartSession(testkit.Context(t), &tc.in)
			if code := errorCode(err); code != tc.want {
				t.Fatalf("err %v, code %q, want %q", err, code, tc.want)
			}
		})
	}
	_, err := c.StartSession(testkit.Context(t), &ssm.StartSessionInput{Target: aws.String("i-0fffffffffffffff0")})
	var tnc *ssmtypes.TargetNotConnected
	if !errors.As(err, &tnc) {
		t.Errorf("SDK did not decode a typed TargetNotConnected: %T %v", err, err)
	}
	_, err = c.StartSession(testkit.Context(t), &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID), DocumentName: aws.String("Nope")})
	var id *ssmtypes.InvalidDocument
	if !errors.As(err, &id) {
		t.Errorf("SDK did not decode a typed InvalidDocument: %T %v", err, err)
	}
}

func TestStartSessionDocuments(t *testing.T) {
	custom := Document{SessionType: SessionTypePort, Parameters: []Parameter{{Name: "p", Default: "1"}},
		Properties: map[string]any{"nested": map[string]any{"list": []any{"{{p}}", 2.0}}, "type": "LocalPortForwarding"}}
	s := newTestServer(t, &Options{Documents: map[string]Document{"Custom": custom}}, true)
	c := ssmClient(s)
	for _, tc := range []struct {
		doc, typ string
		params   map[string][]string
		want     map[string]any
	}{
		{"", SessionTypeStandardStream, nil, nil},
		{DocPortForwarding, SessionTypePort, map[string][]string{"portNumber": {"8080"}},
			map[string]any{"type": "LocalPortForwarding", "portNumber": "8080", "localPortNumber": "0"}},
		{DocPortForwardingRemoteHost, SessionTypePort, map[string][]string{"host": {"db.internal"}, "localPortNumber": {"5432"}},
			map[string]any{"type": "LocalPortForwarding", "host": "db.internal", "portNumber": "80", "localPortNumber": "5432"}},
		{DocSSH, SessionTypePort, nil, map[string]any{"portNumber": "22"}},
		{DocInteractiveCommand, SessionTypeInteractiveCommands, map[string][]string{"command": {"top"}}, map[string]any{"commands": "top"}},
		{DocNonInteractiveCommand, SessionTypeNonInteractiveCommands, map[string][]string{"command": {"ls", "pwd"}}, map[string]any{"commands": "ls\npwd"}},
		{DocRunCommand, SessionTypeNonInteractiveCommands, map[string][]string{"command": {"ls"}}, map[string]any{"commands": "ls", "separateOutputStream": true}},
		{"Custom", SessionTypePort, map[string][]string{"p": {"x"}}, map[string]any{"nested": map[string]any{"list": []any{"x", 2.0}}, "type": "LocalPortForwarding"}},
	} {
		in := &ssm.StartSessionInput{Target: aws.String(DefaultInstanceID), Parameters: tc.params}
		if tc.doc != "" {
			in.DocumentName = aws.String(tc.doc)
		}
		out, err := c.StartSession(testkit.Context(t), in)
		if err != nil {
			t.Errorf("%s: %v", tc.doc, err)
			continue
		}
		info := s.Session(*out.SessionId)
		want, _ := json.Marshal(tc.want)
		got, _ := json.Marshal(info.Properties)
		if info.SessionType != tc.typ || !bytes.Equal(got, want) {
			t.Errorf("%s: type %s props %s, want %s %s", tc.doc, info.SessionType, got, tc.typ, want)
		}
		wantURL := "ws" + strings.TrimPrefix(s.URL, "http") + "/v1/data-channel/" + *out.SessionId + "?stream=input"
		if *out.StreamUrl != wantURL || *out.TokenValue == "" {
			t.Errorf("StreamUrl %q, want %q; token empty: %v", *out.StreamUrl, wantURL, *out.TokenValue == "")
		}
	}
	if got := s.Stats().SessionsStarted; got != 8 {
		t.Errorf("SessionsStarted = %d, want 8", got)
	}
}

func TestInstancesAndTags(t *testing.T) {
	s := newTestServer(t, &Options{Instances: []Instance{
		{ID: "i-0aaaaaaaaaaaaaaa1", Name: "web", Tags: map[string]string{"env": "prod"}},
		{ID: "mi-0bbbbbbbbbbbbbbb2", Name: "onprem", PlatformType: "Windows"},
	}}, true)
	c := ssmClient(s)
	ctx := testkit.Context(t)
	ids := func(f ...ssmtypes.InstanceInformationStringFilter) []string {
		t.Helper()
		out, err := c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{Filters: f})
		if err != nil {
			t.Fatal(err)
		}
		var l []string
		for _, i := range out.InstanceInformationList {
			l = append(l, *i.InstanceId)
		}
		return l
	}
	filter := func(k string, v ...string) ssmtypes.InstanceInformationStringFilter {
		return ssmtypes.InstanceInformationStringFilter{Key: aws.String(k), Values: v}
	}
	for _, tc := range []struct {
		f    []ssmtypes.InstanceInformationStringFilter
		want string
	}{
		{nil, DefaultInstanceID + " i-0aaaaaaaaaaaaaaa1 mi-0bbbbbbbbbbbbbbb2"},
		{[]ssmtypes.InstanceInformationStringFilter{filter("tag:Name", "web", "onprem")}, "i-0aaaaaaaaaaaaaaa1 mi-0bbbbbbbbbbbbbbb2"},
		{[]ssmtypes.InstanceInformationStringFilter{filter("tag-key", "env")}, "i-0aaaaaaaaaaaaaaa1"},
		{[]ssmtypes.InstanceInformationStringFilter{filter("InstanceIds", DefaultInstanceID)}, DefaultInstanceID},
		{[]ssmtypes.InstanceInformationStringFilter{filter("PlatformTypes", "Windows")}, "mi-0bbbbbbbbbbbbbbb2"},
		{[]ssmtypes.InstanceInformationStringFilter{filter("tag:Name", "web"), filter("PingStatus", "Online")}, "i-0aaaaaaaaaaaaaaa1"},
	} {
		if got := strings.Join(ids(tc.f...), " "); got != tc.want {
			t.Errorf("filters %+v: got %q, want %q", tc.f, got, tc.want)
		}
	}
	_, err := c.DescribeInstanceInformation(ctx, &ssm.DescribeInstanceInformationInput{Filters: []ssmtypes.InstanceInformationStringFilter{filter("Bogus", "x")}})
	if code := errorCode(err); code != "InvalidFilterKey" {
		t.Errorf("bogus filter: %v", err)
	}
	tags, err := c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingManagedInstance, ResourceId: aws.String("mi-0bbbbbbbbbbbbbbb2")})
	if err != nil || len(tags.TagList) != 1 || *tags.TagList[0].Key != "Name" || *tags.TagList[0].Value != "onprem" {
		t.Errorf("ListTagsForResource: %+v %v", tags, err)
	}
	_, err = c.ListTagsForResource(ctx, &ssm.ListTagsForResourceInput{ResourceType: ssmtypes.ResourceTypeForTaggingManagedInstance, ResourceId: aws.String("i-0nope")})
	if code := errorCode(err); code != "InvalidResourceId" {
		t.Errorf("unknown resource: %v", err)
	}
}

func TestExecuteCommand(t *testing.T) {
	s := newTestServer(t, nil, true)
	c := ecsClient(s)
	ctx := testkit.Context(t)
	out, err := c.ExecuteCommand(ctx, &ecs.ExecuteCommandInput{
		Cluster: aws.String("prod"), Task: aws.String("arn:aws:ecs:us-east-1:123456789012:task/prod/0123abcd"),
		Container: aws.String("web"), Command: aws.String("/bin/bash"), Interactive: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	if *out.ClusterArn != "arn:aws:ecs:us-east-1:123456789012:cluster/prod" || *out.TaskArn != "arn:aws:ecs:us-east-1:123456789012:task/prod/0123abcd" ||
		*out.ContainerName != "web" || !out.Interactive || out.Session == nil || *out.Session.StreamUrl == "" || *out.Session.TokenValue == "" {
		t.Fatalf("unexpected response %+v", out)
	}
	info := s.Session(*out.Session.SessionId)
	if info == nil || info.SessionType != SessionTypeInteractiveCommands || info.Properties["commands"] != "/bin/bash" ||
		!strings.HasPrefix(info.Target, "ecs:prod_0123abcd_0123abcd-") {
		t.Fatalf("session %+v", info)
	}
	// The target it reports works for StartSession too (port forwarding to a task).
	if _, err := ssmClient(s).StartSession(ctx, &ssm.StartSessionInput{Target: aws.String(info.Target), DocumentName: aws.String(DocSSH)}); err != nil {
		t.Errorf("StartSession to %s: %v", info.Target, err)
	}
	// DescribeTasks reports the container's runtimeId that the session target carries, as the AWS CLI expects.
	dt, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Cluster: out.ClusterArn, Tasks: []string{"0123abcd"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(dt.Tasks) != 1 || len(dt.Tasks[0].Containers) != 1 || *dt.Tasks[0].Containers[0].Name != "web" ||
		info.Target != "ecs:prod_0123abcd_"+*dt.Tasks[0].Containers[0].RuntimeId {
		t.Fatalf("DescribeTasks %+v for target %s", dt.Tasks, info.Target)
	}
	if _, err := c.DescribeTasks(ctx, &ecs.DescribeTasksInput{Tasks: []string{}}); errorCode(err) != "InvalidParameterException" {
		t.Errorf("DescribeTasks without tasks: %v", err)
	}
	for _, in := range []*ecs.ExecuteCommandInput{
		{Task: aws.String("t"), Command: aws.String("sh")},
	} {
		if _, err := c.ExecuteCommand(ctx, in); errorCode(err) != "InvalidParameterException" {
			t.Errorf("%+v: err %v", in, err)
		}
	}
}

func TestKMS(t *testing.T) {
	s := newTestServer(t, nil, true)
	c := kmsClient(s)
	ctx := testkit.Context(t)
	ec := map[string]string{"aws:ssm:SessionId": "s-1", "aws:ssm:TargetId": DefaultInstanceID}
	dk, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("key-1"), NumberOfBytes: aws.Int32(64), EncryptionContext: ec})
	if err != nil {
		t.Fatal(err)
	}
	if len(dk.Plaintext) != 64 || len(dk.CiphertextBlob) == 0 || *dk.KeyId != "arn:aws:kms:us-east-1:123456789012:key/key-1" {
		t.Fatalf("GenerateDataKey: %d-byte plaintext, key %s", len(dk.Plaintext), *dk.KeyId)
	}
	out, err := c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec})
	if err != nil || !bytes.Equal(out.Plaintext, dk.Plaintext) || *out.KeyId != *dk.KeyId {
		t.Fatalf("Decrypt: %v", err)
	}
	// The agent's path: the server's Decrypter with the same context.
	p, err := s.kms.Decrypt(ctx, dk.CiphertextBlob, ec)
	if err != nil || !bytes.Equal(p, dk.Plaintext) {
		t.Fatalf("server Decrypter: %v", err)
	}
	wrong := map[string]string{"aws:ssm:SessionId": "s-2", "aws:ssm:TargetId": DefaultInstanceID}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: wrong})
	var ice *kmstypes.InvalidCiphertextException
	if !errors.As(err, &ice) {
		t.Errorf("wrong context: %v", err)
	}
	if _, err := s.kms.Decrypt(ctx, dk.CiphertextBlob, wrong); err == nil {
		t.Error("server Decrypter opened a blob under the wrong context")
	}
	_, err = c.Decrypt(ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec, KeyId: aws.String("key-2")})
	if errorCode(err) != "IncorrectKeyException" {
		t.Errorf("wrong key: %v", err)
	}
	_, err = c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String("k"), NumberOfBytes: aws.Int32(2000)})
	if errorCode(err) != "ValidationException" {
		t.Errorf("2000 bytes: %v", err)
	}
	if st := s.Stats(); st.DataKeys != 1 || st.Decrypts != 2 /* API + agent path */ {
		t.Errorf("DataKeys %d Decrypts %d, want 1 and 2", st.DataKeys, st.Decrypts)
	}
}

func TestDescribeSessions(t *testing.T) {
	s := newTestServer(t, nil, true)
	c := ssmClient(s)
	ctx := testkit.Context(t)
	id, _, _ := startShell(t, s)
	count := func(state ssmtypes.SessionState) int {
		out, err := c.DescribeSessions(ctx, &ssm.DescribeSessionsInput{State: state})
		if err != nil {
			t.Fatal(err)
		}
		for _, ss := range out.Sessions {
			if *ss.SessionId != id || *ss.Target != DefaultInstanceID {
				t.Errorf("unexpected session %+v", ss)
			}
		}
		return len(out.Sessions)
	}
	if a, h := count(ssmtypes.SessionStateActive), count(ssmtypes.SessionStateHistory); a != 1 || h != 0 {
		t.Errorf("before terminate: %d active, %d history", a, h)
	}
	if _, err := c.TerminateSession(ctx, &ssm.TerminateSessionInput{SessionId: aws.String(id)}); err != nil {
		t.Fatal(err)
	}
	<-s.Session(id).Done
	if a, h := count(ssmtypes.SessionStateActive), count(ssmtypes.SessionStateHistory); a != 0 || h != 1 {
		t.Errorf("after terminate: %d active, %d history", a, h)
	}
}

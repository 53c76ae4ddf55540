package ssmtest

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
)

func (s *Server) executeCommand(r *apiRequest) (any, error) {
	var in struct {
		Cluster     string `json:"cluster"`
		Container   string `json:"container"`
		Command     string `json:"command"`
		Interactive bool   `json:"interactive"`
		Task        string `json:"task"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	switch {
	case in.Task == "":
		return nil, &apiError{Code: "InvalidParameterException", Message: "task is required."}
	case in.Command == "":
		return nil, &apiError{Code: "InvalidParameterException", Message: "command is required."}
	case !in.Interactive:
		return nil, &apiError{Code: "InvalidParameterException", Message: "Interactive is only supported with 'true'."}
	}
	region := r.region
	if region == "" {
		region = DefaultRegion
	}
	cluster := in.Cluster
	if cluster == "" {
		cluster = "default"
	}
	if i := strings.LastIndex(cluster, "/"); i >= 0 { // a cluster ARN
		cluster = cluster[i+1:]
	}
	taskID := in.Task
	if i := strings.LastIndex(taskID, "/"); i >= 0 { // a task ARN
		taskID = taskID[i+1:]
	}
	container := in.Container
	if container == "" {
		container = "app"
	}
	sum := sha256.Sum256([]byte(cluster + "/" + taskID + "/" + container))
	runtimeID := taskID + "-" + hex.EncodeToString(sum[:5])
	target := "ecs:" + cluster + "_" + taskID + "_" + runtimeID
	ss, err := s.newSession(target, "", SessionTypeInteractiveCommands,
		map[string]any{"commands": in.Command})
	if err != nil {
		return nil, err
	}
	prefix := "arn:aws:ecs:" + region + ":" + DefaultAccountID + ":"
	type sess struct {
		SessionID  string `json:"sessionId"`
		StreamURL  string `json:"streamUrl"`
		TokenValue string `json:"tokenValue"`
	}
	return struct {
		ClusterArn    string `json:"clusterArn"`
		ContainerArn  string `json:"containerArn"`
		ContainerName string `json:"containerName"`
		Interactive   bool   `json:"interactive"`
		Session       sess   `json:"session"`
		TaskArn       string `json:"taskArn"`
	}{
		ClusterArn:    prefix + "cluster/" + cluster,
		ContainerArn:  prefix + "container/" + cluster + "/" + taskID + "/" + hex.EncodeToString(sum[5:21]),
		ContainerName: container,
		Interactive:   true,
		Session:       sess{ss.id, ss.streamURL(), ss.token},
		TaskArn:       prefix + "task/" + cluster + "/" + taskID,
	}, nil
}

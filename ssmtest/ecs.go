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
	runtimeID, containerID := ecsContainerIDs(cluster, taskID, container)
	s.noteECSContainer(cluster, taskID, container)
	target := "ecs:" + cluster + "_" + taskID + "_" + runtimeID
	ss, err := s.newSession(region, target, "", SessionTypeInteractiveCommands,
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
		ContainerArn:  prefix + "container/" + cluster + "/" + taskID + "/" + containerID,
		ContainerName: container,
		Interactive:   true,
		Session:       sess{ss.id, ss.streamURL(), ss.token},
		TaskArn:       prefix + "task/" + cluster + "/" + taskID,
	}, nil
}

// ecsContainerIDs derives a container's runtime id and container id from its names, so ExecuteCommand and
// DescribeTasks agree without storing anything.
func ecsContainerIDs(cluster, taskID, container string) (runtimeID, containerID string) {
	sum := sha256.Sum256([]byte(cluster + "/" + taskID + "/" + container))
	return taskID + "-" + hex.EncodeToString(sum[:5]), hex.EncodeToString(sum[5:21])
}

// noteECSContainer remembers a container that ExecuteCommand named, for DescribeTasks.
func (s *Server) noteECSContainer(cluster, taskID, container string) {
	s.ecsMu.Lock()
	defer s.ecsMu.Unlock()
	if s.ecsContainers == nil {
		s.ecsContainers = make(map[string][]string)
	}
	key := cluster + "/" + taskID
	for _, c := range s.ecsContainers[key] {
		if c == container {
			return
		}
	}
	s.ecsContainers[key] = append(s.ecsContainers[key], container)
}

// describeTasks answers ECS DescribeTasks, which `aws ecs execute-command` calls after ExecuteCommand to
// learn the container's runtimeId for the session target. Every task exists and runs; its containers are
// the ones ExecuteCommand was asked for, or a single "app".
func (s *Server) describeTasks(r *apiRequest) (any, error) {
	var in struct {
		Cluster string   `json:"cluster"`
		Tasks   []string `json:"tasks"`
	}
	if err := r.decode(&in); err != nil {
		return nil, err
	}
	if len(in.Tasks) == 0 {
		return nil, &apiError{Code: "InvalidParameterException", Message: "Tasks cannot be empty."}
	}
	region := r.region
	if region == "" {
		region = DefaultRegion
	}
	cluster := lastSegment(in.Cluster)
	if cluster == "" {
		cluster = "default"
	}
	prefix := "arn:aws:ecs:" + region + ":" + DefaultAccountID + ":"
	type agent struct {
		Name       string `json:"name"`
		LastStatus string `json:"lastStatus"`
	}
	type container struct {
		ContainerArn  string  `json:"containerArn"`
		TaskArn       string  `json:"taskArn"`
		Name          string  `json:"name"`
		RuntimeID     string  `json:"runtimeId"`
		LastStatus    string  `json:"lastStatus"`
		ManagedAgents []agent `json:"managedAgents"`
	}
	type task struct {
		TaskArn              string      `json:"taskArn"`
		ClusterArn           string      `json:"clusterArn"`
		LastStatus           string      `json:"lastStatus"`
		EnableExecuteCommand bool        `json:"enableExecuteCommand"`
		Containers           []container `json:"containers"`
	}
	out := struct {
		Tasks    []task `json:"tasks"`
		Failures []any  `json:"failures"`
	}{Failures: []any{}}
	for _, t := range in.Tasks {
		taskID := lastSegment(t)
		taskArn := prefix + "task/" + cluster + "/" + taskID
		s.ecsMu.Lock()
		names := append([]string(nil), s.ecsContainers[cluster+"/"+taskID]...)
		s.ecsMu.Unlock()
		if len(names) == 0 {
			names = []string{"app"}
		}
		tk := task{TaskArn: taskArn, ClusterArn: prefix + "cluster/" + cluster, LastStatus: "RUNNING", EnableExecuteCommand: true}
		for _, n := range names {
			runtimeID, containerID := ecsContainerIDs(cluster, taskID, n)
			tk.Containers = append(tk.Containers, container{
				ContainerArn: prefix + "container/" + cluster + "/" + taskID + "/" + containerID, TaskArn: taskArn,
				Name: n, RuntimeID: runtimeID, LastStatus: "RUNNING",
				ManagedAgents: []agent{{Name: "ExecuteCommandAgent", LastStatus: "RUNNING"}},
			})
		}
		out.Tasks = append(out.Tasks, tk)
	}
	return out, nil
}

func lastSegment(arn string) string {
	if i := strings.LastIndex(arn, "/"); i >= 0 {
		return arn[i+1:]
	}
	return arn
}

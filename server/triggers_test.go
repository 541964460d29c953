package server_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"connectrpc.com/connect"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/server"
)

// TestCloudEventTrigger runs the blood-pressure example: a high reading
// POSTed as a CloudEvent (binary and structured mode, and through
// SendEvent) starts the alert with the mapped input, once per reading; a
// normal reading starts nothing.
func TestCloudEventTrigger(t *testing.T) {
	n := startNode(t, t.TempDir(), server.Options{})
	tok := n.token("clinic")
	c := n.client(tok)
	v := mustDeploy(t, c, "blood-pressure-alert.yaml", readFile(t, "../corpus/examples/blood-pressure-alert.yaml"), nil)
	if len(v.Triggers) != 1 || v.Triggers[0].Type != "com.example.health.blood-pressure" {
		t.Fatalf("triggers: %+v", v.Triggers)
	}
	post := func(id string, sys, dia int) (int, string) {
		return httpDo(t, "POST", n.url+"/events", tok, "application/json",
			strings.NewReader(fmt.Sprintf(`{"patientId": "p-42", "systolic": %d, "diastolic": %d}`, sys, dia)),
			map[string]string{"ce-specversion": "1.0", "ce-type": "com.example.health.blood-pressure",
				"ce-source": "/devices/cuff-17", "ce-id": id})
	}
	code, body := post("reading-1", 152, 95)
	if code != 202 {
		t.Fatalf("high reading: %d %s", code, body)
	}
	started := jsonMap(t, body)["started"].([]any)
	if len(started) != 1 || started[0].(map[string]any)["created"] != true {
		t.Fatalf("high reading started %s", body)
	}
	id := started[0].(map[string]any)["executionId"].(string)
	x := wait(t, c, id)
	in := x.Input.GetStructValue().GetFields()
	if x.Status != "succeeded" || x.Workflow != "blood-pressure-alert" || in["patientId"].GetStringValue() != "p-42" ||
		in["systolic"].GetNumberValue() != 152 || in["readingId"].GetStringValue() != "reading-1" ||
		in["device"].GetStringValue() != "/devices/cuff-17" {
		t.Fatalf("alert execution: %+v", x)
	}
	tr, err := c.GetTrace(ctxT(t), connect.NewRequest(&nexusv1.GetTraceRequest{ExecutionId: id}))
	if err != nil {
		t.Fatal(err)
	}
	notified := map[string]string{}
	for _, s := range tr.Msg.Trace.Steps {
		notified[s.Function] = s.Key
	}
	if notified["notify-physician"] != "reading-1/physician" || notified["notify-family"] != "reading-1/family" {
		t.Fatalf("notifications: %v", notified)
	}
	// The same reading again: the same execution.
	code, body = post("reading-1", 152, 95)
	if code != 202 || !strings.Contains(body, `"created":false`) || !strings.Contains(body, id) {
		t.Fatalf("redelivered reading: %d %s", code, body)
	}
	// Normal, and only diastolic high.
	if code, body = post("reading-2", 120, 80); code != 202 || !strings.Contains(body, `"started":[]`) {
		t.Fatalf("normal reading: %d %s", code, body)
	}
	if code, body = post("reading-3", 130, 92); code != 202 || !strings.Contains(body, `"created":true`) {
		t.Fatalf("diastolic reading: %d %s", code, body)
	}
	// Structured mode.
	code, body = httpDo(t, "POST", n.url+"/events", tok, "application/cloudevents+json", strings.NewReader(
		`{"specversion": "1.0", "id": "reading-4", "source": "/devices/cuff-9", "type": "com.example.health.blood-pressure",
		  "datacontenttype": "application/json", "data": {"patientId": "p-7", "systolic": 181, "diastolic": 99}}`), nil)
	if code != 202 || !strings.Contains(body, `"created":true`) {
		t.Fatalf("structured event: %d %s", code, body)
	}
	// Another type: nothing; through the API.
	se, err := c.SendEvent(ctxT(t), connect.NewRequest(&nexusv1.SendEventRequest{Id: "r5", Source: "/x", Type: "com.example.other",
		Data: value(t, `{"systolic": 200, "diastolic": 120}`)}))
	if err != nil || len(se.Msg.Started) != 0 {
		t.Fatalf("another type: %+v %v", se, err)
	}
	se, err = c.SendEvent(ctxT(t), connect.NewRequest(&nexusv1.SendEventRequest{Id: "r6", Source: "/x", Type: "com.example.health.blood-pressure",
		Data: value(t, `{"patientId": "p-1", "systolic": 200, "diastolic": 120}`)}))
	if err != nil || len(se.Msg.Started) != 1 || !se.Msg.Started[0].Created {
		t.Fatalf("SendEvent: %+v %v", se, err)
	}
	_, err = c.SendEvent(ctxT(t), connect.NewRequest(&nexusv1.SendEventRequest{Source: "/x", Type: "t"}))
	wantCode(t, err, connect.CodeInvalidArgument, "an event without an id")
	// Another namespace's events do not reach this namespace's triggers.
	other := n.client(n.token("elsewhere"))
	se, err = other.SendEvent(ctxT(t), connect.NewRequest(&nexusv1.SendEventRequest{Id: "r7", Source: "/x", Type: "com.example.health.blood-pressure",
		Data: value(t, `{"patientId": "p-1", "systolic": 200, "diastolic": 120}`)}))
	if err != nil || len(se.Msg.Started) != 0 {
		t.Fatalf("an event of another namespace: %+v %v", se, err)
	}
	if code, _ := httpDo(t, "POST", n.url+"/events", "", "application/json", strings.NewReader(`{}`), nil); code != 401 {
		t.Fatalf("/events without a token: %d", code)
	}
	if code, body := httpDo(t, "POST", n.url+"/events", tok, "application/json", strings.NewReader(`{}`), nil); code != 400 {
		t.Fatalf("not a CloudEvent: %d %s", code, body)
	}
	l, err := c.ListExecutions(ctxT(t), connect.NewRequest(&nexusv1.ListExecutionsRequest{Workflow: "blood-pressure-alert"}))
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Msg.Executions) != 4 {
		t.Fatalf("alerts: %d, want 4", len(l.Msg.Executions))
	}
}

// TestCronTrigger: a schedule starts executions on its own, with the
// scheduled time in the input.
func TestCronTrigger(t *testing.T) {
	fired := make(chan server.Started, 16)
	n := startNode(t, t.TempDir(), server.Options{TriggerPoll: 50 * time.Millisecond,
		OnTrigger: func(ns string, s server.Started) {
			if ns == "ops" {
				fired <- s
			}
		}})
	c := n.client(n.token("ops"))
	mustDeploy(t, c, "tick.yaml", `version: "1.0"
name: tick
functions: {log: {uri: "builtin:echo"}}
triggers:
- schedule: "@every 1s"
  input: {at.$: $.time, kind: tick}
states:
- {name: Log, action: log, end: true}
`, nil)
	var s server.Started
	select {
	case s = <-fired:
	case <-time.After(20 * time.Second):
		t.Fatal("the schedule started nothing within 20s")
	}
	if !s.Created || s.Workflow != "tick" || !strings.HasPrefix(s.ExecutionID, "cron-1-") {
		t.Fatalf("started %+v", s)
	}
	x := wait(t, c, s.ExecutionID)
	in := x.Input.GetStructValue().GetFields()
	if x.Status != "succeeded" || in["kind"].GetStringValue() != "tick" || !strings.HasPrefix(in["at"].GetStringValue(), "20") {
		t.Fatalf("cron execution: %+v", x)
	}
}

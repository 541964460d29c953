package server

import (
	"encoding/json"
	"net/http"
	"sort"
	"sync"

	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"google.golang.org/protobuf/reflect/protoreflect"
)

// The OpenAPI 3 document of the JSON API is made from the service's
// protobuf descriptors, so it cannot drift from what the server speaks:
// one POST operation per method at /nexus.v1.NexusService/METHOD, its
// request and response schemas in protojson's mapping (lowerCamelCase
// names, 64-bit integers as strings, Timestamp as an RFC 3339 string,
// Value as any JSON), connect's error body, and the plain endpoints.

// methodDocs summarise the methods (the .proto's comments are not in the
// compiled descriptors).
var methodDocs = map[string]string{
	"DeployWorkflow":       "Verify a workflow (model checking and policies) and register it as its next version; refused on a violation unless force.",
	"ListWorkflows":        "List the namespace's workflows with their latest version.",
	"GetWorkflow":          "Get one version of a workflow (the latest by default) with its source and verification.",
	"ListWorkflowVersions": "List every version of a workflow, newest first.",
	"GetWorkflowGraph":     "Draw a workflow version as SVG, optionally with a counterexample trace or an execution's path.",
	"StartExecution":       "Start an execution; idempotent on a caller-chosen execution id.",
	"GetExecution":         "Get an execution (optionally waiting up to wait_ms for its end).",
	"ListExecutions":       "List executions, newest first, by workflow, status and start time.",
	"GetHistory":           "An execution's log, record by record.",
	"GetTrace":             "An execution's timeline: each call's input, output, error, attempt and timing.",
	"CancelExecution":      "Ask an execution to stop; its compensations run.",
	"CompleteTask":         "Complete, fail or heartbeat the callback step holding a task token.",
	"SendEvent":            "Deliver a CloudEvent to the namespace's event triggers.",
}

var (
	openapiOnce sync.Once
	openapiDoc  []byte
)

// OpenAPI returns the OpenAPI 3 document of the JSON API.
func OpenAPI() []byte {
	openapiOnce.Do(func() {
		b, err := json.MarshalIndent(buildOpenAPI(), "", "  ")
		if err != nil {
			panic(err) // maps of strings and slices always marshal
		}
		openapiDoc = b
	})
	return openapiDoc
}

func serveOpenAPI(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	w.Write(OpenAPI())
}

type obj = map[string]any

func buildOpenAPI() obj {
	sd := nexusv1.File_nexus_proto.Services().ByName("NexusService")
	schemas := obj{}
	paths := obj{}
	jsonBody := func(ref string) obj {
		return obj{"content": obj{"application/json": obj{"schema": obj{"$ref": ref}}}}
	}
	errResp := obj{"description": "An error: the connect protocol's error body.", "content": obj{"application/json": obj{"schema": obj{"$ref": "#/components/schemas/connect.Error"}}}}
	for i := 0; i < sd.Methods().Len(); i++ {
		m := sd.Methods().Get(i)
		addSchema(schemas, m.Input())
		addSchema(schemas, m.Output())
		name := string(m.Name())
		paths["/"+string(sd.FullName())+"/"+name] = obj{"post": obj{
			"operationId": name,
			"summary":     methodDocs[name],
			"tags":        []string{"NexusService"},
			"parameters":  []obj{{"$ref": "#/components/parameters/ConnectProtocolVersion"}},
			"requestBody": func() obj {
				b := jsonBody("#/components/schemas/" + string(m.Input().FullName()))
				b["required"] = true
				return b
			}(),
			"responses": obj{
				"200": func() obj {
					b := jsonBody("#/components/schemas/" + string(m.Output().FullName()))
					b["description"] = "Success."
					return b
				}(),
				"default": errResp,
			},
		}}
	}
	schemas["connect.Error"] = obj{"type": "object", "properties": obj{
		"code":    obj{"type": "string", "description": "unauthenticated, not_found, already_exists, failed_precondition, invalid_argument, resource_exhausted, ..."},
		"message": obj{"type": "string"},
		"details": obj{"type": "array", "items": obj{"type": "object", "properties": obj{
			"type": obj{"type": "string"}, "value": obj{"type": "string", "description": "base64 of the protobuf detail"},
			"debug": obj{"description": "the detail as JSON"}}}},
	}}
	text := obj{"text/plain": obj{"schema": obj{"type": "string"}}}
	paths["/healthz"] = obj{"get": obj{"operationId": "Health", "summary": "Liveness; needs no token.", "security": []obj{},
		"responses": obj{"200": obj{"description": "ok", "content": text}}}}
	paths["/openapi.json"] = obj{"get": obj{"operationId": "OpenAPI", "summary": "This document; needs no token.", "security": []obj{},
		"responses": obj{"200": obj{"description": "The OpenAPI document.", "content": obj{"application/json": obj{"schema": obj{"type": "object"}}}}}}}
	paths["/metrics"] = obj{"get": obj{"operationId": "Metrics", "summary": "Prometheus metrics (text exposition format).",
		"responses": obj{"200": obj{"description": "The metrics.", "content": text}, "401": obj{"description": "No or a bad token.", "content": text}}}}
	paths["/events"] = obj{"post": obj{"operationId": "PostCloudEvent",
		"summary": "A CloudEvent over HTTP, binary (ce-* headers) or structured (application/cloudevents+json) content mode; starts the matching triggers.",
		"requestBody": obj{"required": true, "content": obj{
			"application/cloudevents+json": obj{"schema": obj{"type": "object", "required": []string{"specversion", "id", "source", "type"},
				"properties": obj{"specversion": obj{"type": "string"}, "id": obj{"type": "string"}, "source": obj{"type": "string"},
					"type": obj{"type": "string"}, "subject": obj{"type": "string"}, "time": obj{"type": "string", "format": "date-time"},
					"datacontenttype": obj{"type": "string"}, "data": obj{}}}},
			"application/json": obj{"schema": obj{"description": "the data of a binary-mode event (ce-id, ce-source, ce-type, ce-specversion headers)"}}}},
		"responses": obj{
			"202": obj{"description": "The executions started (or found started by an earlier delivery).", "content": obj{"application/json": obj{"schema": obj{
				"type": "object", "properties": obj{"started": obj{"type": "array", "items": obj{"$ref": "#/components/schemas/nexus.v1.StartedExecution"}}}}}}},
			"400": obj{"description": "Not a valid CloudEvent, or its input mapping failed.", "content": text},
			"401": obj{"description": "No or a bad token.", "content": text},
			"413": obj{"description": "Over the request size limit.", "content": text},
		}}}
	return obj{
		"openapi": "3.0.3",
		"info": obj{"title": "nexus", "version": "v1",
			"description": "The JSON API of nexus serve (connect protocol, unary calls). Every call but /healthz and /openapi.json needs Authorization: Bearer TOKEN (nexus token create); a token sees its own namespace only."},
		"servers":  []obj{{"url": "/"}},
		"security": []obj{{"bearer": []string{}}},
		"paths":    paths,
		"components": obj{
			"schemas":         schemas,
			"securitySchemes": obj{"bearer": obj{"type": "http", "scheme": "bearer"}},
			"parameters": obj{"ConnectProtocolVersion": obj{"name": "Connect-Protocol-Version", "in": "header", "required": false,
				"description": "1 (optional for unary JSON calls)", "schema": obj{"type": "string", "enum": []string{"1"}}}},
		},
	}
}

// addSchema adds the schema of message md (and of the messages it uses).
func addSchema(schemas obj, md protoreflect.MessageDescriptor) {
	name := string(md.FullName())
	if _, done := schemas[name]; done {
		return
	}
	switch name {
	case "google.protobuf.Value":
		schemas[name] = obj{"description": "Any JSON value.", "nullable": true}
		return
	case "google.protobuf.Timestamp":
		schemas[name] = obj{"type": "string", "format": "date-time"}
		return
	}
	props := obj{}
	s := obj{"type": "object", "properties": props, "additionalProperties": false}
	schemas[name] = s
	fields := md.Fields()
	names := make([]string, 0, fields.Len())
	byName := map[string]protoreflect.FieldDescriptor{}
	for i := 0; i < fields.Len(); i++ {
		f := fields.Get(i)
		names = append(names, f.JSONName())
		byName[f.JSONName()] = f
	}
	sort.Strings(names)
	for _, n := range names {
		f := byName[n]
		var fs obj
		switch {
		case f.IsMap():
			fs = obj{"type": "object", "additionalProperties": fieldSchema(schemas, f.MapValue())}
		case f.IsList():
			fs = obj{"type": "array", "items": fieldSchema(schemas, f)}
		default:
			fs = fieldSchema(schemas, f)
		}
		props[n] = fs
	}
}

// fieldSchema is the schema of one value of field f.
func fieldSchema(schemas obj, f protoreflect.FieldDescriptor) obj {
	switch f.Kind() {
	case protoreflect.BoolKind:
		return obj{"type": "boolean"}
	case protoreflect.StringKind:
		return obj{"type": "string"}
	case protoreflect.BytesKind:
		return obj{"type": "string", "format": "byte"}
	case protoreflect.Int32Kind, protoreflect.Sint32Kind, protoreflect.Sfixed32Kind:
		return obj{"type": "integer", "format": "int32"}
	case protoreflect.Uint32Kind, protoreflect.Fixed32Kind:
		return obj{"type": "integer", "format": "int64", "minimum": 0}
	case protoreflect.Int64Kind, protoreflect.Sint64Kind, protoreflect.Sfixed64Kind, protoreflect.Uint64Kind, protoreflect.Fixed64Kind:
		// protojson writes 64-bit integers as strings and reads both.
		return obj{"oneOf": []obj{{"type": "string", "pattern": "^-?[0-9]+$"}, {"type": "integer"}}}
	case protoreflect.FloatKind, protoreflect.DoubleKind:
		return obj{"type": "number"}
	case protoreflect.EnumKind:
		return obj{"type": "string"}
	case protoreflect.MessageKind:
		addSchema(schemas, f.Message())
		return obj{"$ref": "#/components/schemas/" + string(f.Message().FullName())}
	}
	return obj{}
}

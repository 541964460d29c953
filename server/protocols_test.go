package server_test

import (
	"context"
	"net/http"
	"testing"

	"connectrpc.com/connect"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/api/nexus/v1/nexusv1connect"
	"github.com/nexus-workflows/nexus/server"
)

// TestProtocols: the one handler answers gRPC (HTTP/2 without TLS),
// gRPC-Web and connect's JSON and binary protocols alike, the bearer
// token checked on each.
func TestProtocols(t *testing.T) {
	n := startNode(t, t.TempDir(), server.Options{})
	tok := n.token("proto")
	mustDeploy(t, n.client(tok), "hello.yaml", "version: \"1.0\"\nname: hello\nstates:\n- {name: A, type: pass, result: {hello: world}, end: true}\n", nil)
	h2c := &http.Client{Transport: &http.Transport{Protocols: new(http.Protocols)}}
	h2c.Transport.(*http.Transport).Protocols.SetUnencryptedHTTP2(true)
	for _, p := range []struct {
		name string
		c    nexusv1connect.NexusServiceClient
		anon nexusv1connect.NexusServiceClient
	}{
		{"grpc", bearerClientOpts(h2c, n.url, tok, connect.WithGRPC()), bearerClientOpts(h2c, n.url, "", connect.WithGRPC())},
		{"grpc-web", bearerClientOpts(http.DefaultClient, n.url, tok, connect.WithGRPCWeb()), bearerClientOpts(http.DefaultClient, n.url, "", connect.WithGRPCWeb())},
		{"connect-proto", bearerClientOpts(http.DefaultClient, n.url, tok), bearerClientOpts(http.DefaultClient, n.url, "")},
		{"connect-json", n.client(tok), n.client("")},
	} {
		id := "x-" + p.name
		r, err := p.c.StartExecution(ctxT(t), connect.NewRequest(&nexusv1.StartExecutionRequest{Workflow: "hello", ExecutionId: id}))
		if err != nil || !r.Msg.Created {
			t.Fatalf("%s: start: %v %v", p.name, r, err)
		}
		g, err := p.c.GetExecution(ctxT(t), connect.NewRequest(&nexusv1.GetExecutionRequest{ExecutionId: id, WaitMs: 20000}))
		if err != nil || g.Msg.Execution.Status != "succeeded" ||
			g.Msg.Execution.Output.GetStructValue().GetFields()["hello"].GetStringValue() != "world" {
			t.Fatalf("%s: get: %v %v", p.name, g, err)
		}
		_, err = p.anon.GetExecution(ctxT(t), connect.NewRequest(&nexusv1.GetExecutionRequest{ExecutionId: id}))
		wantCode(t, err, connect.CodeUnauthenticated, p.name+" without a token")
	}
}

func bearerClientOpts(hc *http.Client, url, token string, opts ...connect.ClientOption) nexusv1connect.NexusServiceClient {
	if token == "" {
		return nexusv1connect.NewNexusServiceClient(hc, url, opts...)
	}
	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	})
	return nexusv1connect.NewNexusServiceClient(hc, url, append(opts, connect.WithInterceptors(auth))...)
}

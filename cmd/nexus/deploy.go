package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"time"

	"connectrpc.com/connect"
	nexusv1 "github.com/nexus-workflows/nexus/api/nexus/v1"
	"github.com/nexus-workflows/nexus/api/nexus/v1/nexusv1connect"
	"github.com/nexus-workflows/nexus/checker"
	"github.com/nexus-workflows/nexus/checker/policy"
	"github.com/nexus-workflows/nexus/server"
	"github.com/spf13/cobra"
	"google.golang.org/protobuf/encoding/protojson"
)

// deployFlags are the options of nexus deploy.
type deployFlags struct {
	server, token string
	bindings      string
	force, dryRun bool
	local         bool
	output        string
	timeout       time.Duration
}

func (e *env) deployCmd() *cobra.Command {
	f := &deployFlags{}
	cmd := &cobra.Command{
		Use:   "deploy FILE --server URL",
		Short: "Verify a workflow, then register it as a new version on a server",
		Long: `Deploy a workflow (nexus YAML or Step Functions ASL) to nexus serve: the
server validates it, checks its bindings and triggers, evaluates the
policies (the workflow's own and the server's --policy files) and
model-checks it, and registers it as the workflow's next version only if
every invariant holds. The check runs here first too (--local), so a
violation is reported before anything is sent.

--force registers a workflow despite a violation, a failing policy or an
incomplete check; the verdict is recorded with the version for everyone to
see. An invalid workflow is never registered. Bindings come from
--bindings FILE or the sidecar NAME.bindings.yaml, as for nexus run.

Exit 0 when the version is registered (or the same one was already the
latest), 1 when it is refused, 2 on usage, I/O or server errors.`,
		Example: `  nexus deploy corpus/examples/order-saga.yaml --server http://127.0.0.1:8080
  NEXUS_SERVER=https://nexus.internal NEXUS_TOKEN=... nexus deploy flow.yaml --force`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return e.deploy(cmd.Context(), f, args[0])
		},
	}
	fl := cmd.Flags()
	fl.StringVar(&f.server, "server", "", "URL of nexus serve (default $NEXUS_SERVER)")
	fl.StringVar(&f.token, "token", "", "API token (default $NEXUS_TOKEN)")
	fl.StringVar(&f.bindings, "bindings", "", "YAML file binding function names to URIs")
	fl.BoolVar(&f.force, "force", false, "register despite a violation, failing policy or incomplete check (recorded)")
	fl.BoolVar(&f.dryRun, "dry-run", false, "verify on the server without registering")
	fl.BoolVar(&f.local, "local", true, "model-check here before sending")
	fl.StringVarP(&f.output, "output", "o", "text", "text or json (the registered version, or the refusal's verification)")
	fl.DurationVar(&f.timeout, "timeout", 5*time.Minute, "bound on the whole deploy")
	return cmd
}

// client is an API client for --server and --token.
func apiClient(serverURL, token string) (nexusv1connect.NexusServiceClient, error) {
	if serverURL == "" {
		serverURL = os.Getenv("NEXUS_SERVER")
	}
	if token == "" {
		token = os.Getenv("NEXUS_TOKEN")
	}
	if serverURL == "" {
		return nil, errors.New("--server URL (or NEXUS_SERVER): which nexus serve?")
	}
	if token == "" {
		return nil, errors.New("--token (or NEXUS_TOKEN): nexus token create makes one")
	}
	if !strings.HasPrefix(serverURL, "http://") && !strings.HasPrefix(serverURL, "https://") {
		serverURL = "http://" + serverURL
	}
	auth := connect.UnaryInterceptorFunc(func(next connect.UnaryFunc) connect.UnaryFunc {
		return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
			req.Header().Set("Authorization", "Bearer "+token)
			return next(ctx, req)
		}
	})
	return nexusv1connect.NewNexusServiceClient(http.DefaultClient, strings.TrimRight(serverURL, "/"), connect.WithInterceptors(auth)), nil
}

func (e *env) deploy(ctx context.Context, f *deployFlags, path string) error {
	if ctx == nil {
		ctx = context.Background()
	}
	if f.output != "text" && f.output != "json" {
		return usageError("-o must be text or json")
	}
	client, err := apiClient(f.server, f.token)
	if err != nil {
		return usageError("%v", err)
	}
	src, m, fs, err := load(path)
	if err != nil {
		return usageError("%v", err)
	}
	if m == nil {
		printFindings(e.stderr, src, fs)
		fmt.Fprintf(e.stderr, "nexus deploy: %s is not a valid workflow; nothing was sent\n", path)
		return findings()
	}
	binds, from, err := loadBindings(f.bindings, path)
	if err != nil {
		return usageError("%v", err)
	}
	if from != "" && f.output == "text" {
		fmt.Fprintf(e.stderr, "bindings from %s\n", from)
	}
	ctx, cancel := context.WithTimeout(ctx, f.timeout)
	defer cancel()
	if f.local && !f.force {
		pfs := policy.Evaluate(m, policy.FromWorkflow(m.Workflow))
		r, err := checker.Check(ctx, m, checker.Options{Timeout: f.timeout})
		if err != nil {
			return usageError("check: %v", err)
		}
		if r.Violated() || pfs.Errors() > 0 {
			for _, fd := range pfs {
				fmt.Fprint(e.stderr, fd.Render(src.src))
			}
			r.File = path
			r.WriteText(e.stderr)
			fmt.Fprintf(e.stderr, "nexus deploy: %s refused here: %s; nothing was sent (--force deploys it anyway, with this verdict recorded)\n",
				path, map[bool]string{true: "an invariant is violated", false: "a policy fails"}[r.Violated()])
			return findings()
		}
	}
	resp, err := client.DeployWorkflow(ctx, connect.NewRequest(&nexusv1.DeployWorkflowRequest{Source: string(src.src), File: path,
		Bindings: binds, Force: f.force, DryRun: f.dryRun}))
	if err != nil {
		v := server.VerificationOf(err)
		code := connect.CodeOf(err)
		if v != nil && (code == connect.CodeFailedPrecondition || code == connect.CodeInvalidArgument) {
			if f.output == "json" {
				b, _ := protojson.MarshalOptions{Multiline: true}.Marshal(v)
				fmt.Fprintln(e.stdout, string(b))
			} else {
				printVerification(e, v)
			}
			fmt.Fprintln(e.stderr, "nexus deploy:", connectMessage(err))
			return findings()
		}
		return usageError("%s", connectMessage(err))
	}
	ver := resp.Msg.Version
	if f.output == "json" {
		b, _ := protojson.MarshalOptions{Multiline: true}.Marshal(resp.Msg)
		fmt.Fprintln(e.stdout, string(b))
		return nil
	}
	printVerification(e, ver.Verification)
	switch {
	case f.dryRun:
		fmt.Fprintf(e.stdout, "%s: verified (%s), not registered (--dry-run)\n", ver.Name, ver.Verification.GetVerdict())
	case !resp.Msg.Created:
		fmt.Fprintf(e.stdout, "%s version %d is already the latest (digest %.12s); nothing new registered\n", ver.Name, ver.Version, ver.Digest)
	default:
		forced := ""
		if ver.Verification.GetForced() {
			forced = fmt.Sprintf(" FORCED despite verdict %q (recorded)", ver.Verification.GetVerdict())
		}
		fmt.Fprintf(e.stdout, "deployed %s version %d (digest %.12s)%s\n", ver.Name, ver.Version, ver.Digest, forced)
	}
	return nil
}

// connectMessage is an API error without connect's code prefix noise.
func connectMessage(err error) string {
	var ce *connect.Error
	if errors.As(err, &ce) {
		return fmt.Sprintf("%s (%s)", ce.Message(), ce.Code())
	}
	return err.Error()
}

// printVerification writes the server's verdict, one line per
// invariant, then the findings.
func printVerification(e *env, v *nexusv1.Verification) {
	if v == nil {
		return
	}
	for _, fd := range v.Findings {
		fmt.Fprintf(e.stderr, "%s:%d:%d: %s: %s\n", fd.File, fd.Line, fd.Column, fd.Severity, fd.Message)
	}
	if len(v.Results) == 0 {
		return
	}
	fmt.Fprintf(e.stdout, "verdict: %s (%d states explored)\n", v.Verdict, v.States)
	for _, r := range v.Results {
		fmt.Fprintf(e.stdout, "  %-22s %s\n", r.Invariant, strings.ReplaceAll(r.Verdict, "_", " "))
		for _, vio := range r.Violations {
			fmt.Fprintf(e.stdout, "    %s: %s (trace of %d steps)\n", vio.State, vio.Message, vio.Steps)
		}
	}
}

package invoke

import (
	"context"
	"fmt"
	"regexp"
	"strings"
)

// GCFInvoker calls Google Cloud Functions (and Cloud Run functions) over
// HTTP, the way the Functions Framework serves them. Bindings:
//
//	gcf:https://URL[#OPTIONS]              the function's URL (also http://, for a local framework)
//	gcf:PROJECT/REGION/NAME[#OPTIONS]      https://REGION-PROJECT.cloudfunctions.net/NAME
//
// An HTTP function gets a JSON POST and answers JSON. A CloudEvent
// function (binding option #cloudevent) gets the input as the data of a
// binary-mode CloudEvent whose id is the idempotency key (so the
// receiver's (source, id) de-duplication and nexus's key agree), type
// DefaultCloudEventType or #type=, source /nexus/executions/EXECUTION or
// #source=, subject the state; it answers with no body, so its output is
// null. Everything else, headers, authentication (a Google ID token: use
// TokenSource or #bearer_env=NAME) and the mapping of statuses to error
// names, is HTTPInvoker's. The Functions Framework answers a function
// that returned an error or panicked with a 500 (HTTP.5xx) and
// X-Google-Status "error" or "crash", which the cause repeats; a
// CloudEvent function can choose the status by returning a
// cloudevents/protocol/http Result.
type GCFInvoker struct {
	HTTPInvoker
}

// Invoke calls the Google Cloud Function req.URI names.
func (g *GCFInvoker) Invoke(ctx context.Context, req Request) (Response, error) {
	t, err := parseGCF(req.URI)
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
	}
	return g.call(ctx, req, t, maxBytes(g.MaxPayloadBytes))
}

var (
	gcpProject  = regexp.MustCompile(`^[a-z][a-z0-9-]{4,28}[a-z0-9]$`)
	gcpRegion   = regexp.MustCompile(`^[a-z]+-[a-z]+[0-9]+$`)
	gcpFunction = regexp.MustCompile(`^[A-Za-z][A-Za-z0-9_-]{0,62}$`)
)

// parseGCF reads gcf:URL or gcf:PROJECT/REGION/NAME, each with #OPTIONS.
func parseGCF(uri string) (httpTarget, error) {
	rest := uri[len("gcf:"):]
	if strings.HasPrefix(rest, "https://") || strings.HasPrefix(rest, "http://") {
		return parseHTTPURL(uri, rest)
	}
	path, frag, _ := strings.Cut(rest, "#")
	parts := strings.Split(path, "/")
	if len(parts) != 3 {
		return httpTarget{}, malformed(uri, "want gcf:https://URL or gcf:PROJECT/REGION/NAME")
	}
	project, region, name := parts[0], parts[1], parts[2]
	switch {
	case !gcpProject.MatchString(project):
		return httpTarget{}, malformed(uri, "project %q is not a Google Cloud project id (6-30 lower-case letters, digits, hyphens)", project)
	case !gcpRegion.MatchString(region):
		return httpTarget{}, malformed(uri, "region %q is not a Google Cloud region (e.g. europe-west1)", region)
	case !gcpFunction.MatchString(name):
		return httpTarget{}, malformed(uri, "function name %q is not a Cloud Functions name (a letter, then up to 62 letters, digits, _ or -)", name)
	}
	u := "https://" + region + "-" + project + ".cloudfunctions.net/" + name
	if frag != "" {
		u += "#" + frag
	}
	return parseHTTPURL(uri, u)
}

package engine

import (
	"context"
	"fmt"
	"net/url"
	"strings"

	"github.com/nexus-workflows/nexus/engine/invoke"
)

// Built-in functions, bound as builtin:NAME, for trying a workflow before
// its real functions exist and for demonstrations:
//
//	builtin:echo                         returns its input unchanged
//	builtin:fail?error=NAME&cause=TEXT   fails with that error (default States.TaskFailed)
//
// They run in process and return at once.
var builtins = map[string]invoke.Func{
	"echo": func(_ context.Context, req invoke.Request) (invoke.Response, error) {
		return invoke.Response{Output: req.Input}, nil
	},
	"fail": func(_ context.Context, req invoke.Request) (invoke.Response, error) {
		name, cause := "States.TaskFailed", "builtin:fail always fails"
		if i := strings.IndexByte(req.URI, '?'); i >= 0 {
			q, err := url.ParseQuery(req.URI[i+1:])
			if err != nil {
				return invoke.Response{}, fmt.Errorf("%s: %w", req.URI, err)
			}
			if v := q.Get("error"); v != "" {
				name = v
			}
			if v := q.Get("cause"); v != "" {
				cause = v
			}
		}
		return invoke.Response{Error: name, Cause: cause}, nil
	},
}

// builtin returns the built-in function a builtin: URI names.
func builtin(uri string) (invoke.Func, error) {
	rest, ok := strings.CutPrefix(uri, "builtin:")
	if !ok {
		return nil, nil
	}
	name, _, _ := strings.Cut(rest, "?")
	f := builtins[name]
	if f == nil {
		return nil, fmt.Errorf("binding %q: no built-in function %q (there are builtin:echo and builtin:fail)", uri, name)
	}
	return f, nil
}

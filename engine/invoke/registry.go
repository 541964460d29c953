package invoke

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
)

// Registry chooses the invoker of a call by the scheme of its binding URI
// (Request.URI) and is itself an Invoker. The zero value is ready to use:
// every built-in invoker with its defaults and no in-process functions.
//
//	binding URI                             invoker
//	exec:PATH[?arg=A&arg=B]                 Exec: a local program, JSON on stdin and stdout
//	http://HOST/PATH[#OPTIONS]              HTTP: a JSON POST (Azure Functions, Cloud Run, any endpoint)
//	https://HOST/PATH[#OPTIONS]             HTTP, over TLS
//	lambda:NAME[:QUALIFIER] | lambda:ARN    Lambda: AWS Lambda Invoke (aws-sdk-go-v2)
//	gcf:https://URL[#OPTIONS]               GCF: a Google Cloud Function at that URL
//	gcf:PROJECT/REGION/NAME[#OPTIONS]       GCF: https://REGION-PROJECT.cloudfunctions.net/NAME
//	go:NAME                                 the Go function given to Register(NAME, ...)
//
// The fields configure the built-in invokers; set them before the first
// call and do not change them afterwards. Register and Handle may be
// called at any time, concurrently with Invoke.
type Registry struct {
	Exec   ExecInvoker
	HTTP   HTTPInvoker
	Lambda LambdaInvoker
	GCF    GCFInvoker
	// MaxPayloadBytes bounds the input and the output of every call made
	// through the registry, for invokers that set no limit of their own
	// (0: DefaultMaxPayloadBytes). A payload over it is the function
	// error States.DataLimitExceeded.
	MaxPayloadBytes int64

	mu      sync.RWMutex
	funcs   map[string]Invoker // go:NAME
	schemes map[string]Invoker // Handle(scheme, ...)
}

// Errors a binding URI can have; match them with errors.Is. The error
// itself is a *URIError naming the URI and what is wrong with it.
var (
	// ErrUnknownScheme: no invoker for the URI's scheme.
	ErrUnknownScheme = errors.New("unknown scheme")
	// ErrMalformedURI: the scheme is known but the rest is not a valid
	// binding for it.
	ErrMalformedURI = errors.New("malformed binding URI")
	// ErrUnknownFunction: a go:NAME with no function registered under NAME.
	ErrUnknownFunction = errors.New("no such in-process function")
)

// URIError is a binding URI that cannot be used.
type URIError struct {
	URI    string
	Err    error  // ErrUnknownScheme, ErrMalformedURI or ErrUnknownFunction
	Reason string // what is wrong and, where it helps, what to write instead
}

func (e *URIError) Error() string {
	return fmt.Sprintf("binding %q: %v: %s", e.URI, e.Err, e.Reason)
}

func (e *URIError) Unwrap() error { return e.Err }

func malformed(uri, format string, args ...any) *URIError {
	return &URIError{URI: uri, Err: ErrMalformedURI, Reason: fmt.Sprintf(format, args...)}
}

// builtinSchemes are the schemes the Registry knows without Handle.
var builtinSchemes = []string{"exec", "gcf", "go", "http", "https", "lambda"}

// Register makes fn callable as go:NAME. It is an error to register a
// name twice or a name that could not appear in a URI.
//
// In-process functions run on a goroutine of their own: a call returns
// when the function does or when the context ends, whichever is first (a
// function that ignores its context keeps running after the call has
// returned, like a remote function whose caller timed out). A panic is
// recovered and becomes the function error States.TaskFailed with the
// panic value and stack as cause. The payload limits apply; the output is
// not checked to be JSON.
func (r *Registry) Register(name string, fn Invoker) error {
	if fn == nil {
		return fmt.Errorf("register go:%s: nil Invoker", name)
	}
	if err := checkGoName("go:"+name, name); err != nil {
		return fmt.Errorf("register: %w", err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.funcs[name]; dup {
		return fmt.Errorf("register go:%s: already registered", name)
	}
	if r.funcs == nil {
		r.funcs = make(map[string]Invoker)
	}
	r.funcs[name] = fn
	return nil
}

// Handle routes every URI of the given scheme to inv, in place of the
// built-in invoker if there is one (to mock "lambda:" in tests, or to add
// a scheme). inv receives the Request unchanged; the registry applies the
// payload limits and the timeout around it as for go: functions. A nil
// inv removes the route.
func (r *Registry) Handle(scheme string, inv Invoker) error {
	s := strings.ToLower(scheme)
	if !validScheme(s) {
		return fmt.Errorf("handle %q: not a URI scheme (a letter, then letters, digits, '+', '-' or '.')", scheme)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if inv == nil {
		delete(r.schemes, s)
		return nil
	}
	if r.schemes == nil {
		r.schemes = make(map[string]Invoker)
	}
	r.schemes[s] = inv
	return nil
}

// Check reports whether uri is a binding the registry can call: a known
// scheme, well formed for it, and for go: a registered name. It does no
// I/O: a program that does not exist or an endpoint that does not answer
// is found at the first call. Use it to reject a workflow's bindings
// before running it.
func (r *Registry) Check(uri string) error {
	scheme, err := splitScheme(uri)
	if err != nil {
		return err
	}
	if inv := r.handler(scheme); inv != nil {
		return nil
	}
	switch scheme {
	case "exec":
		_, err = parseExec(uri)
	case "http", "https":
		_, err = parseHTTP(uri)
	case "lambda":
		_, err = parseLambda(uri)
	case "gcf":
		_, err = parseGCF(uri)
	case "go":
		_, err = r.goFunc(uri)
	default:
		err = r.unknownScheme(uri, scheme)
	}
	return err
}

// Invoke calls the function bound by req.URI. A URI that Check would
// reject is returned as a (wrapped) *URIError, without calling anything.
func (r *Registry) Invoke(ctx context.Context, req Request) (Response, error) {
	scheme, err := splitScheme(req.URI)
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
	}
	if inv := r.handler(scheme); inv != nil {
		return callInProcess(ctx, inv, req, r.limit(0))
	}
	switch scheme {
	case "exec":
		t, err := parseExec(req.URI)
		if err != nil {
			return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
		}
		return r.Exec.call(ctx, req, t, r.limit(r.Exec.MaxPayloadBytes))
	case "http", "https":
		t, err := parseHTTP(req.URI)
		if err != nil {
			return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
		}
		return r.HTTP.call(ctx, req, t, r.limit(r.HTTP.MaxPayloadBytes))
	case "lambda":
		t, err := parseLambda(req.URI)
		if err != nil {
			return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
		}
		return r.Lambda.call(ctx, req, t, r.limit(r.Lambda.MaxPayloadBytes))
	case "gcf":
		t, err := parseGCF(req.URI)
		if err != nil {
			return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
		}
		return r.GCF.HTTPInvoker.call(ctx, req, t, r.limit(r.GCF.MaxPayloadBytes))
	case "go":
		fn, err := r.goFunc(req.URI)
		if err != nil {
			return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
		}
		return callInProcess(ctx, fn, req, r.limit(0))
	default:
		return Response{}, fmt.Errorf("invoke %s: %w", req.Function, r.unknownScheme(req.URI, scheme))
	}
}

// limit is an invoker's own limit, else the registry's, else the default.
func (r *Registry) limit(own int64) int64 {
	if own > 0 {
		return own
	}
	return maxBytes(r.MaxPayloadBytes)
}

func (r *Registry) handler(scheme string) Invoker {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.schemes[scheme]
}

func (r *Registry) goFunc(uri string) (Invoker, error) {
	name := uri[len("go:"):]
	if err := checkGoName(uri, name); err != nil {
		return nil, err
	}
	r.mu.RLock()
	fn := r.funcs[name]
	r.mu.RUnlock()
	if fn == nil {
		return nil, &URIError{URI: uri, Err: ErrUnknownFunction,
			Reason: fmt.Sprintf("no Go function registered as %q (Registry.Register)", name)}
	}
	return fn, nil
}

func (r *Registry) unknownScheme(uri, scheme string) error {
	known := slices.Clone(builtinSchemes)
	r.mu.RLock()
	for s := range r.schemes {
		if !slices.Contains(known, s) {
			known = append(known, s)
		}
	}
	r.mu.RUnlock()
	slices.Sort(known)
	return &URIError{URI: uri, Err: ErrUnknownScheme,
		Reason: fmt.Sprintf("no invoker for %q; known schemes: %s", scheme, strings.Join(known, ", "))}
}

// checkGoName accepts names made of letters, digits and "_-./".
func checkGoName(uri, name string) error {
	if name == "" {
		return malformed(uri, "empty function name; write go:NAME")
	}
	for _, c := range name {
		if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.ContainsRune("_-./", c)) {
			return malformed(uri, "function name %q has %q; use letters, digits and _-./", name, c)
		}
	}
	return nil
}

// splitScheme returns the lower-cased scheme of uri.
func splitScheme(uri string) (string, error) {
	if strings.TrimSpace(uri) == "" {
		return "", malformed(uri, "empty URI; write SCHEME:WHERE, e.g. exec:./bin/fn or https://host/fn")
	}
	i := strings.IndexByte(uri, ':')
	if i < 0 {
		return "", malformed(uri, "no scheme; write SCHEME:WHERE, e.g. exec:%s or lambda:%s", uri, uri)
	}
	s := strings.ToLower(uri[:i])
	if !validScheme(s) {
		return "", malformed(uri, "%q is not a URI scheme", uri[:i])
	}
	return s, nil
}

// validScheme is RFC 3986's scheme = ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ), lower case.
func validScheme(s string) bool {
	if s == "" || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for _, c := range s {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// callInProcess runs inv on its own goroutine under the request's timeout,
// with the payload limits, turning a panic into a function error.
func callInProcess(ctx context.Context, inv Invoker, req Request, limit int64) (Response, error) {
	if resp, ok := checkInput(req, limit); !ok {
		return resp, nil
	}
	ctx, cancel := withTimeout(ctx, req, 0)
	defer cancel()
	type result struct {
		resp Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		defer func() {
			if p := recover(); p != nil {
				done <- result{resp: Response{
					Error: ErrorTaskFailed,
					Cause: bound(fmt.Sprintf("%s panicked: %v\n%s", req.Function, p, debug.Stack())),
				}}
			}
		}()
		resp, err := inv.Invoke(ctx, req)
		done <- result{resp, err}
	}()
	select {
	case res := <-done:
		if res.err != nil {
			return Response{}, fmt.Errorf("invoke %s (%s): %w", req.Function, req.URI, res.err)
		}
		if int64(len(res.resp.Output)) > limit {
			return outputTooLarge(req, int64(len(res.resp.Output)), limit), nil
		}
		res.resp.Cause = bound(res.resp.Cause)
		return res.resp, nil
	case <-ctx.Done():
		return Response{}, fmt.Errorf("invoke %s (%s): %w", req.Function, req.URI, ctx.Err())
	}
}

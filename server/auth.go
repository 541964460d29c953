package server

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"sync"
	"time"

	"connectrpc.com/connect"
)

// authenticator checks bearer tokens against Meta, caching what it found
// for a few seconds (a revoked token stops working within cacheFor).
type authenticator struct {
	meta *Meta
	mu   sync.Mutex
	seen map[string]cached // by token hash
}

type cached struct {
	tok     *Token
	err     error
	expires time.Time
}

const cacheFor = 5 * time.Second

func newAuthenticator(m *Meta) *authenticator {
	return &authenticator{meta: m, seen: map[string]cached{}}
}

// caller is who makes a call: the token's namespace and id.
type caller struct {
	Namespace string
	TokenID   string
}

type callerKey struct{}

func callerOf(ctx context.Context) caller {
	c, _ := ctx.Value(callerKey{}).(caller)
	return c
}

// errNoToken and errTokenRejected are what an unauthenticated call is told.
var (
	errNoToken       = errors.New("missing bearer token: send the header Authorization: Bearer TOKEN (nexus token create makes one)")
	errTokenRejected = errors.New("the bearer token is unknown or revoked")
)

// check returns the caller of an Authorization header value.
func (a *authenticator) check(ctx context.Context, header string) (caller, error) {
	scheme, tok, ok := strings.Cut(strings.TrimSpace(header), " ")
	tok = strings.TrimSpace(tok)
	if !ok || !strings.EqualFold(scheme, "Bearer") || tok == "" {
		return caller{}, errNoToken
	}
	h := hashToken(tok)
	now := time.Now()
	a.mu.Lock()
	c, hit := a.seen[h]
	a.mu.Unlock()
	if !hit || now.After(c.expires) {
		t, err := a.meta.LookupToken(ctx, tok)
		if err != nil && !errors.Is(err, errBadToken) {
			return caller{}, err // the database failed: do not cache
		}
		c = cached{tok: t, err: err, expires: now.Add(cacheFor)}
		a.mu.Lock()
		if len(a.seen) > 10000 {
			clear(a.seen)
		}
		a.seen[h] = c
		a.mu.Unlock()
	}
	if c.err != nil {
		return caller{}, errTokenRejected
	}
	return caller{Namespace: c.tok.Namespace, TokenID: c.tok.ID}, nil
}

// interceptor authenticates every call of the service.
func (a *authenticator) interceptor() connect.Interceptor { return &authInterceptor{a: a} }

type authInterceptor struct{ a *authenticator }

func (i *authInterceptor) WrapUnary(next connect.UnaryFunc) connect.UnaryFunc {
	return func(ctx context.Context, req connect.AnyRequest) (connect.AnyResponse, error) {
		c, err := i.a.check(ctx, req.Header().Get("Authorization"))
		if err != nil {
			if errors.Is(err, errNoToken) || errors.Is(err, errTokenRejected) {
				return nil, connect.NewError(connect.CodeUnauthenticated, err)
			}
			return nil, connect.NewError(connect.CodeUnavailable, err)
		}
		return next(context.WithValue(ctx, callerKey{}, c), req)
	}
}

func (i *authInterceptor) WrapStreamingClient(next connect.StreamingClientFunc) connect.StreamingClientFunc {
	return next
}

func (i *authInterceptor) WrapStreamingHandler(next connect.StreamingHandlerFunc) connect.StreamingHandlerFunc {
	return func(ctx context.Context, conn connect.StreamingHandlerConn) error {
		c, err := i.a.check(ctx, conn.RequestHeader().Get("Authorization"))
		if err != nil {
			return connect.NewError(connect.CodeUnauthenticated, err)
		}
		return next(context.WithValue(ctx, callerKey{}, c), conn)
	}
}

// http authenticates a plain HTTP endpoint.
func (a *authenticator) http(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := a.check(r.Context(), r.Header.Get("Authorization"))
		if err != nil {
			code := http.StatusUnauthorized
			if !errors.Is(err, errNoToken) && !errors.Is(err, errTokenRejected) {
				code = http.StatusServiceUnavailable
			} else {
				w.Header().Set("WWW-Authenticate", `Bearer realm="nexus"`)
			}
			http.Error(w, err.Error(), code)
			return
		}
		h.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), callerKey{}, c)))
	})
}

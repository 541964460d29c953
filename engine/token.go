package engine

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nexus-workflows/nexus/engine/store"
	"github.com/nexus-workflows/nexus/model"
)

// Task tokens. A step that waits for a callback hands its function a
// token; whoever holds the token completes the step (nexus complete, or
// the API). A token names the execution and the invocation and carries a
// MAC under the store's secret, so that tokens cannot be made up; the
// same invocation re-issued after a restart gets the same token.

const tokenPrefix = "nxt1"

// ErrBadToken is wrapped by token errors.
var ErrBadToken = errors.New("bad task token")

func tokenMAC(secret []byte, exec string, id uint32) string {
	m := hmac.New(sha256.New, secret)
	fmt.Fprintf(m, "%s\x00%d", exec, id)
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:16])
}

// Token is the task token of invocation id of execution exec.
func Token(secret []byte, exec string, id uint32) string {
	return tokenPrefix + "." + base64.RawURLEncoding.EncodeToString([]byte(exec)) + "." +
		strconv.FormatUint(uint64(id), 10) + "." + tokenMAC(secret, exec, id)
}

// ParseToken checks a task token and returns what it names.
func ParseToken(secret []byte, token string) (exec string, id uint32, err error) {
	parts := strings.Split(strings.TrimSpace(token), ".")
	if len(parts) != 4 || parts[0] != tokenPrefix {
		return "", 0, fmt.Errorf("%w: not a nexus task token", ErrBadToken)
	}
	b, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	n, err := strconv.ParseUint(parts[2], 10, 32)
	if err != nil {
		return "", 0, fmt.Errorf("%w: %v", ErrBadToken, err)
	}
	exec, id = string(b), uint32(n)
	if !hmac.Equal([]byte(parts[3]), []byte(tokenMAC(secret, exec, id))) {
		return "", 0, fmt.Errorf("%w: it was not issued by this database", ErrBadToken)
	}
	return exec, id, nil
}

// Completion is what completes a callback step.
type Completion struct {
	// Output of a successful step (JSON); Error and Cause of a failed one.
	Output []byte
	Error  string
	Cause  string
	// Heartbeat only tells the engine the step is alive.
	Heartbeat bool
}

// Complete sends a completion for the step holding token to whichever
// engine runs its execution, through the store's inbox: it is durable when
// Complete returns, and is applied once, when the engine reads it (an
// engine resuming the execution later reads it then).
func Complete(ctx context.Context, st store.Store, token string, c Completion, now int64) (exec string, id uint32, err error) {
	secret, err := st.Secret(ctx)
	if err != nil {
		return "", 0, err
	}
	exec, id, err = ParseToken(secret, token)
	if err != nil {
		return "", 0, err
	}
	x, err := st.Execution(ctx, exec)
	if err != nil {
		return "", 0, err
	}
	if s, ok := model.ParseStatus(x.Status); ok && s.Terminal() {
		return exec, id, fmt.Errorf("execution %s is over (%s): nothing waits for this token", exec, x.Status)
	}
	sg := &store.Signal{Exec: exec, Target: id, Time: now}
	switch {
	case c.Heartbeat:
		sg.Kind = store.SignalHeartbeat
	case c.Error != "":
		sg.Kind, sg.Error, sg.Cause = store.SignalFail, c.Error, c.Cause
	default:
		sg.Kind, sg.Output = store.SignalSucceed, c.Output
		if len(sg.Output) == 0 {
			sg.Output = []byte("null")
		}
	}
	_, err = st.Send(ctx, sg)
	return exec, id, err
}

// Cancel asks the engine running execution exec to cancel it, through the
// store's inbox (see Complete).
func Cancel(ctx context.Context, st store.Store, exec, cause string, now int64) error {
	x, err := st.Execution(ctx, exec)
	if err != nil {
		return err
	}
	if s, ok := model.ParseStatus(x.Status); ok && s.Terminal() {
		return fmt.Errorf("execution %s is over (%s)", exec, x.Status)
	}
	_, err = st.Send(ctx, &store.Signal{Exec: exec, Kind: store.SignalCancel, Cause: cause, Time: now})
	return err
}

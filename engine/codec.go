package engine

import (
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/nexus-workflows/nexus/model"
)

// The body of a log record: a model.Event or a model.Command, every field
// kept, in a small tagged binary form. A body starts with the format
// version and what it holds; then come (tag, value) pairs in increasing
// tag order, a field at its zero value left out. Byte strings distinguish
// nil (absent) from empty, because the kernel does. The decoder is strict:
// unknown tags, tags out of order and trailing bytes are errors, so that a
// body has one encoding and a damaged one is noticed.

const (
	bodyVersion = 1
	bodyEvent   = 'E'
	bodyCommand = 'C'
)

// ErrBadBody is wrapped by body decoding errors.
var ErrBadBody = errors.New("bad record body")

// Event field tags.
const (
	evKind = iota + 1
	evTime
	evID
	evThread
	evDecide
	evBranch
	evCount
	evLimit
	evDelay
	evUntil
	evErr
	evCause
	evErrNull
	evCauseNull
	evData
	evVars
	evItems
	evKey
	evTimeout
	evHeartbeat
)

// Command field tags.
const (
	cmKind = iota + 1
	cmEffect
	cmID
	cmThread
	cmState
	cmFn
	cmAttempt
	cmComp
	cmDecide
	cmCatcher
	cmDelay
	cmUntil
	cmTimeout
	cmHeartbeat
	cmCallback
	cmInput
	cmKey
	cmStatus
	cmErr
	cmCause
)

type enc struct{ b []byte }

func (w *enc) u(tag byte, v uint64) {
	if v != 0 {
		w.b = append(w.b, tag)
		w.b = binary.AppendUvarint(w.b, v)
	}
}

func (w *enc) i(tag byte, v int64) {
	if v != 0 {
		w.b = append(w.b, tag)
		w.b = binary.AppendVarint(w.b, v)
	}
}

func (w *enc) flag(tag byte, v bool) {
	if v {
		w.b = append(w.b, tag)
	}
}

func (w *enc) str(tag byte, v string) {
	if v != "" {
		w.b = append(w.b, tag)
		w.b = binary.AppendUvarint(w.b, uint64(len(v)))
		w.b = append(w.b, v...)
	}
}

func (w *enc) raw(v []byte) {
	w.b = binary.AppendUvarint(w.b, uint64(len(v)))
	w.b = append(w.b, v...)
}

// bytes writes a non-nil byte string (nil is left out).
func (w *enc) bytes(tag byte, v []byte) {
	if v != nil {
		w.b = append(w.b, tag)
		w.raw(v)
	}
}

func (w *enc) list(tag byte, vs [][]byte) {
	if vs == nil {
		return
	}
	w.b = append(w.b, tag)
	w.b = binary.AppendUvarint(w.b, uint64(len(vs)))
	for _, v := range vs {
		// Each item: 0 for nil, else length+1.
		if v == nil {
			w.b = append(w.b, 0)
			continue
		}
		w.b = binary.AppendUvarint(w.b, uint64(len(v))+1)
		w.b = append(w.b, v...)
	}
}

// AppendEvent appends the body encoding of e to b.
func AppendEvent(b []byte, e *model.Event) []byte {
	w := enc{append(b, bodyVersion, bodyEvent)}
	w.u(evKind, uint64(e.Kind))
	w.i(evTime, e.Time)
	w.u(evID, uint64(e.ID))
	w.u(evThread, uint64(e.Thread))
	w.u(evDecide, uint64(e.Decide))
	w.i(evBranch, int64(e.Branch))
	w.u(evCount, uint64(e.Count))
	w.u(evLimit, uint64(e.Limit))
	w.i(evDelay, int64(e.Delay))
	w.i(evUntil, e.Until)
	w.str(evErr, e.Err)
	w.str(evCause, e.Cause)
	w.flag(evErrNull, e.ErrNull)
	w.flag(evCauseNull, e.CauseNull)
	w.bytes(evData, e.Data)
	w.bytes(evVars, e.Vars)
	w.list(evItems, e.Items)
	w.str(evKey, e.Key)
	w.i(evTimeout, int64(e.Timeout))
	w.i(evHeartbeat, int64(e.Heartbeat))
	return w.b
}

// AppendCommand appends the body encoding of c to b.
func AppendCommand(b []byte, c *model.Command) []byte {
	w := enc{append(b, bodyVersion, bodyCommand)}
	w.u(cmKind, uint64(c.Kind))
	w.u(cmEffect, uint64(c.Effect))
	w.u(cmID, uint64(c.ID))
	w.u(cmThread, uint64(c.Thread))
	w.i(cmState, int64(c.State))
	w.i(cmFn, int64(c.Fn))
	w.u(cmAttempt, uint64(c.Attempt))
	w.flag(cmComp, c.Comp)
	w.u(cmDecide, uint64(c.Decide))
	w.i(cmCatcher, int64(c.Catcher))
	w.i(cmDelay, int64(c.Delay))
	w.i(cmUntil, c.Until)
	w.i(cmTimeout, int64(c.Timeout))
	w.i(cmHeartbeat, int64(c.Heartbeat))
	w.flag(cmCallback, c.Callback)
	w.bytes(cmInput, c.Input)
	w.str(cmKey, c.Key)
	w.u(cmStatus, uint64(c.Status))
	w.str(cmErr, c.Err)
	w.str(cmCause, c.Cause)
	return w.b
}

type dec struct {
	b    []byte
	last byte
	err  error
}

func (r *dec) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: "+format, append([]any{ErrBadBody}, args...)...)
	}
	r.b = nil
}

// tag reads the next tag, or 0 at the end.
func (r *dec) tag(max byte) byte {
	if len(r.b) == 0 || r.err != nil {
		return 0
	}
	t := r.b[0]
	r.b = r.b[1:]
	if t <= r.last || t > max {
		r.fail("tag %d after %d", t, r.last)
		return 0
	}
	r.last = t
	return t
}

func (r *dec) u() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *dec) u32() uint32 {
	v := r.u()
	if v > 1<<32-1 {
		r.fail("value %d out of range", v)
	}
	return uint32(v)
}

func (r *dec) i() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *dec) i32() int32 {
	v := r.i()
	if v < -1<<31 || v > 1<<31-1 {
		r.fail("value %d out of range", v)
	}
	return int32(v)
}

func (r *dec) u8() uint8 {
	v := r.u()
	if v > 255 {
		r.fail("value %d out of range", v)
	}
	return uint8(v)
}

func (r *dec) raw() []byte {
	n := r.u()
	if n > uint64(len(r.b)) {
		r.fail("length %d", n)
		return nil
	}
	v := make([]byte, n)
	copy(v, r.b[:n])
	r.b = r.b[n:]
	return v
}

func (r *dec) str() string { return string(r.raw()) }

func (r *dec) list() [][]byte {
	n := r.u()
	if n > uint64(len(r.b)) {
		r.fail("list length %d", n)
		return nil
	}
	out := make([][]byte, n)
	for i := range out {
		l := r.u()
		if l == 0 {
			continue
		}
		if l-1 > uint64(len(r.b)) {
			r.fail("item length %d", l-1)
			return nil
		}
		out[i] = append([]byte{}, r.b[:l-1]...)
		r.b = r.b[l-1:]
	}
	return out
}

func header(b []byte, what byte) (dec, error) {
	if len(b) < 2 || b[0] != bodyVersion || b[1] != what {
		return dec{}, fmt.Errorf("%w: not a version-%d %c body", ErrBadBody, bodyVersion, what)
	}
	return dec{b: b[2:]}, nil
}

// DecodeEvent reads a body written by AppendEvent.
func DecodeEvent(b []byte) (*model.Event, error) {
	r, err := header(b, bodyEvent)
	if err != nil {
		return nil, err
	}
	e := &model.Event{}
	for t := r.tag(evHeartbeat); t != 0; t = r.tag(evHeartbeat) {
		switch t {
		case evKind:
			e.Kind = model.EventKind(r.u8())
		case evTime:
			e.Time = r.i()
		case evID:
			e.ID = r.u32()
		case evThread:
			e.Thread = r.u32()
		case evDecide:
			e.Decide = model.DecideKind(r.u8())
		case evBranch:
			e.Branch = r.i32()
		case evCount:
			e.Count = r.u32()
		case evLimit:
			e.Limit = r.u32()
		case evDelay:
			e.Delay = time.Duration(r.i())
		case evUntil:
			e.Until = r.i()
		case evErr:
			e.Err = r.str()
		case evCause:
			e.Cause = r.str()
		case evErrNull:
			e.ErrNull = true
		case evCauseNull:
			e.CauseNull = true
		case evData:
			e.Data = r.raw()
		case evVars:
			e.Vars = r.raw()
		case evItems:
			e.Items = r.list()
		case evKey:
			e.Key = r.str()
		case evTimeout:
			e.Timeout = time.Duration(r.i())
		case evHeartbeat:
			e.Heartbeat = time.Duration(r.i())
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if e.Kind == 0 {
		return nil, fmt.Errorf("%w: event without a kind", ErrBadBody)
	}
	return e, nil
}

// DecodeCommand reads a body written by AppendCommand.
func DecodeCommand(b []byte) (*model.Command, error) {
	r, err := header(b, bodyCommand)
	if err != nil {
		return nil, err
	}
	c := &model.Command{}
	for t := r.tag(cmCause); t != 0; t = r.tag(cmCause) {
		switch t {
		case cmKind:
			c.Kind = model.CommandKind(r.u8())
		case cmEffect:
			c.Effect = model.CommandKind(r.u8())
		case cmID:
			c.ID = r.u32()
		case cmThread:
			c.Thread = r.u32()
		case cmState:
			c.State = r.i32()
		case cmFn:
			c.Fn = r.i32()
		case cmAttempt:
			c.Attempt = r.u32()
		case cmComp:
			c.Comp = true
		case cmDecide:
			c.Decide = model.DecideKind(r.u8())
		case cmCatcher:
			c.Catcher = r.i32()
		case cmDelay:
			c.Delay = time.Duration(r.i())
		case cmUntil:
			c.Until = r.i()
		case cmTimeout:
			c.Timeout = time.Duration(r.i())
		case cmHeartbeat:
			c.Heartbeat = time.Duration(r.i())
		case cmCallback:
			c.Callback = true
		case cmInput:
			c.Input = r.raw()
		case cmKey:
			c.Key = r.str()
		case cmStatus:
			c.Status = model.Status(r.u8())
		case cmErr:
			c.Err = r.str()
		case cmCause:
			c.Cause = r.str()
		}
	}
	if r.err != nil {
		return nil, r.err
	}
	if c.Kind == 0 {
		return nil, fmt.Errorf("%w: command without a kind", ErrBadBody)
	}
	return c, nil
}

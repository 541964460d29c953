package model

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"time"
)

// The canonical encoding of an Execution: every field in a fixed order,
// integers as varints, byte strings length-prefixed. Two executions are
// equal exactly when their encodings are; the checker stores hashes of
// encodings, and the engine stores encodings as snapshots.

// AppendEncoding appends the canonical encoding of s to b.
func (s *Execution) AppendEncoding(b []byte) []byte {
	b = append(b, encodingVersion, byte(s.Status), byte(s.Final))
	b = binary.AppendUvarint(b, uint64(s.Seq))
	b = binary.AppendUvarint(b, uint64(s.Timer))
	b = appendString(b, s.Err)
	b = appendString(b, s.Cause)
	b = binary.AppendUvarint(b, uint64(len(s.Threads)))
	for i := range s.Threads {
		b = s.Threads[i].appendEncoding(b)
	}
	b = appendMutations(b, s.Done)
	b = appendMutations(b, s.Stuck)
	b = appendBool(b, s.Data != nil)
	if d := s.Data; d != nil {
		b = appendBytes(b, d.Input)
		b = appendBytes(b, d.Output)
		b = binary.AppendVarint(b, d.Start)
		b = appendBool(b, d.ErrNull)
		b = appendBool(b, d.CauseNull)
	}
	return b
}

const encodingVersion = 3

func appendMutations(b []byte, ms []Mutation) []byte {
	b = binary.AppendUvarint(b, uint64(len(ms)))
	for _, m := range ms {
		b = binary.AppendUvarint(b, uint64(m.State))
		b = appendBool(b, m.OnFail)
		b = appendBool(b, m.Uncertain)
		b = appendBytes(b, m.Input)
		b = appendBytes(b, m.Result)
	}
	return b
}

func (t *Thread) appendEncoding(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(t.ID))
	b = binary.AppendUvarint(b, uint64(t.Parent))
	b = binary.AppendUvarint(b, uint64(t.Index))
	b = binary.AppendVarint(b, int64(t.State))
	b = append(b, byte(t.Phase), byte(t.Decide))
	b = binary.AppendVarint(b, int64(t.Catcher))
	b = binary.AppendUvarint(b, uint64(t.Wait))
	b = binary.AppendVarint(b, int64(t.Delay))
	b = binary.AppendVarint(b, t.Until)
	b = binary.AppendUvarint(b, uint64(t.Attempt))
	for _, r := range t.Retries {
		b = binary.AppendUvarint(b, uint64(r))
	}
	b = binary.AppendUvarint(b, uint64(t.Total))
	b = binary.AppendUvarint(b, uint64(t.Started))
	b = binary.AppendUvarint(b, uint64(t.Finished))
	b = binary.AppendUvarint(b, uint64(t.Limit))
	b = appendBool(b, t.Comp)
	b = appendBool(b, t.OnFail)
	b = appendBool(b, t.Uncertain)
	b = appendString(b, t.Err)
	b = appendString(b, t.Cause)
	b = appendBool(b, t.Data != nil)
	if d := t.Data; d != nil {
		b = appendBytes(b, d.Input)
		b = appendBytes(b, d.Effective)
		b = appendBytes(b, d.Result)
		b = appendBytes(b, d.Vars)
		b = appendList(b, d.Items)
		b = appendList(b, d.Results)
		b = appendString(b, d.Key)
		b = binary.AppendVarint(b, int64(d.Timeout))
		b = binary.AppendVarint(b, int64(d.Heartbeat))
		b = binary.AppendVarint(b, d.Entered)
	}
	return b
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// appendBytes distinguishes nil (absent) from empty, since JSON text is
// never empty: 0 means nil, n+1 a value of n bytes.
func appendBytes(b, v []byte) []byte {
	if v == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

func appendString(b []byte, v string) []byte {
	b = binary.AppendUvarint(b, uint64(len(v)))
	return append(b, v...)
}

func appendList(b []byte, vs [][]byte) []byte {
	if vs == nil {
		return append(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(vs))+1)
	for _, v := range vs {
		b = appendBytes(b, v)
	}
	return b
}

// Hash is the 64-bit FNV-1a hash of the canonical encoding of s, computed
// with buf as scratch space (pass a reused buffer to avoid allocation).
func (s *Execution) Hash(buf []byte) (uint64, []byte) {
	buf = s.AppendEncoding(buf[:0])
	return HashBytes(buf), buf
}

// HashBytes is 64-bit FNV-1a, inlined so that hashing allocates nothing.
func HashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return h
}

// ErrCorrupt is wrapped by decoding errors.
var ErrCorrupt = errors.New("corrupt execution encoding")

// DecodeExecution reads an encoding made by AppendEncoding.
func DecodeExecution(b []byte) (*Execution, error) {
	s := &Execution{}
	if err := DecodeInto(s, b); err != nil {
		return nil, err
	}
	return s, nil
}

// DecodeInto reads an encoding made by AppendEncoding into dst, reusing
// the storage of its threads and mutations: the model checker decodes
// every state it expands. On error dst is left in an unspecified state.
func DecodeInto(dst *Execution, b []byte) error {
	r := reader{b: b}
	if v := r.byte(); v != encodingVersion {
		return fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	threads, done, stuck := dst.Threads[:0], dst.Done[:0], dst.Stuck[:0]
	*dst = Execution{}
	s := dst
	s.Status, s.Final = Status(r.byte()), Status(r.byte())
	s.Seq = r.u32()
	s.Timer = r.u32()
	s.Err, s.Cause = r.string(), r.string()
	if n := r.count(); n > 0 {
		s.Threads = slices.Grow(threads, n)[:n]
		for i := range s.Threads {
			s.Threads[i] = Thread{}
			r.thread(&s.Threads[i])
		}
	}
	s.Done = r.mutations(done)
	s.Stuck = r.mutations(stuck)
	if r.bool() {
		s.Data = &ExecData{Input: r.bytes(), Output: r.bytes(), Start: r.varint(), ErrNull: r.bool(), CauseNull: r.bool()}
	}
	if r.err != nil {
		return r.err
	}
	if len(r.b) != 0 {
		return fmt.Errorf("%w: %d trailing bytes", ErrCorrupt, len(r.b))
	}
	if s.Status > TimedOut || s.Final > TimedOut {
		return fmt.Errorf("%w: bad status", ErrCorrupt)
	}
	return nil
}

type reader struct {
	b   []byte
	err error
}

func (r *reader) fail(what string) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: bad %s", ErrCorrupt, what)
	}
	r.b = nil
}

func (r *reader) byte() byte {
	if len(r.b) == 0 {
		r.fail("byte")
		return 0
	}
	v := r.b[0]
	r.b = r.b[1:]
	return v
}

func (r *reader) bool() bool { return r.byte() != 0 }

func (r *reader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *reader) u32() uint32 {
	v := r.uvarint()
	if v > 1<<32-1 {
		r.fail("uint32")
	}
	return uint32(v)
}

func (r *reader) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.fail("varint")
		return 0
	}
	r.b = r.b[n:]
	return v
}

// count reads a length and checks it against what is left, so that a
// corrupt length cannot make us allocate without bound.
func (r *reader) count() int {
	v := r.uvarint()
	if v > uint64(len(r.b)) {
		r.fail("length")
		return 0
	}
	return int(v)
}

func (r *reader) string() string {
	n := r.count()
	if n == 0 {
		return ""
	}
	v := string(r.b[:n])
	r.b = r.b[n:]
	return v
}

func (r *reader) bytes() []byte {
	v := r.uvarint()
	if v == 0 {
		return nil
	}
	if v-1 > uint64(len(r.b)) {
		r.fail("length")
		return nil
	}
	out := append([]byte{}, r.b[:v-1]...)
	r.b = r.b[v-1:]
	return out
}

func (r *reader) list() [][]byte {
	v := r.uvarint()
	if v == 0 {
		return nil
	}
	if v-1 > uint64(len(r.b)) {
		r.fail("length")
		return nil
	}
	out := make([][]byte, v-1)
	for i := range out {
		out[i] = r.bytes()
	}
	return out
}

func (r *reader) thread(t *Thread) {
	t.ID, t.Parent, t.Index = r.u32(), r.u32(), r.u32()
	t.State = int32(r.varint())
	t.Phase, t.Decide = Phase(r.byte()), DecideKind(r.byte())
	t.Catcher = int32(r.varint())
	t.Wait = r.u32()
	t.Delay = time.Duration(r.varint())
	t.Until = r.varint()
	t.Attempt = r.u32()
	for i := range t.Retries {
		t.Retries[i] = r.u32()
	}
	t.Total, t.Started, t.Finished, t.Limit = r.u32(), r.u32(), r.u32(), r.u32()
	t.Comp, t.OnFail, t.Uncertain = r.bool(), r.bool(), r.bool()
	t.Err, t.Cause = r.string(), r.string()
	if r.bool() {
		t.Data = &ThreadData{Input: r.bytes(), Effective: r.bytes(), Result: r.bytes(), Vars: r.bytes(),
			Items: r.list(), Results: r.list(), Key: r.string(), Timeout: time.Duration(r.varint()),
			Heartbeat: time.Duration(r.varint()), Entered: r.varint()}
	}
}

// mutations reads a list written by appendMutations into buf's storage;
// an empty list reads as nil, as the zero Execution has it.
func (r *reader) mutations(buf []Mutation) []Mutation {
	n := r.count()
	if n == 0 {
		return nil
	}
	ms := slices.Grow(buf, n)[:n]
	for i := range ms {
		ms[i] = Mutation{State: int32(r.uvarint()), OnFail: r.bool(), Uncertain: r.bool(), Input: r.bytes(), Result: r.bytes()}
	}
	return ms
}

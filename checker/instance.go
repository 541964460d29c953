package checker

import (
	"encoding/binary"
	"errors"
	"fmt"
	"slices"

	"github.com/nexus-workflows/nexus/model"
)

// UndeclaredError is the error the world raises that no retry or catch
// rule of the state names (model.UndeclaredError).
const UndeclaredError = model.UndeclaredError

// inst is one execution as the checker models it: the kernel's control
// state plus the protocol state of the generic driver around it. It is
// always "at rest": every event it received has been stepped and made
// durable (so the execution state is also what the log replays to), its
// questions are answered, and queue holds what is left to perform.
type inst struct {
	exec model.Execution
	// queue holds the commands of the last step not yet performed, in
	// order: Invoke, StartTimer and, when the kernel emits an effect before
	// its intent (model.Machine.FaultInvokeBeforeIntent), AppendIntent.
	queue []qitem
	// sent holds the invocations and timers started and not yet completed
	// (sorted ids). Invocations stay after a crash: the functions keep
	// running; timers are lost with the engine.
	sent []uint32
	// eff holds the threads (sorted ids) whose current step had an attempt
	// that may have taken effect and then timed out.
	eff []uint32
	// silent holds the invocations in sent (sorted ids) that the world
	// will never answer: callbacks of a state with no timeout and no
	// heartbeat, which nobody completed. No completion is ever delivered
	// for them; they stay in flight (and may still take effect when
	// abandoned) until their thread stops waiting. A crash keeps them: the
	// re-issued invocation has the same id, and nobody answers it either.
	silent []uint32
	// orphan is 1 + the index of the first state whose mutation took
	// effect with nothing to undo it (0: none).
	orphan int32
	// pivot is 1 + the index of the first irreversible state whose
	// mutation took effect (0: none).
	pivot int32
}

// qitem is a command waiting to be performed.
type qitem struct {
	kind  model.CommandKind
	id    uint32
	state int32
}

func (a *inst) copyInto(b *inst) {
	a.exec.CopyInto(&b.exec)
	b.queue = append(b.queue[:0], a.queue...)
	b.sent = append(b.sent[:0], a.sent...)
	b.eff = append(b.eff[:0], a.eff...)
	b.silent = append(b.silent[:0], a.silent...)
	b.orphan, b.pivot = a.orphan, a.pivot
}

// appendEncoding appends the canonical encoding of a: the protocol state,
// then the kernel's own encoding of the execution (model.Execution's
// AppendEncoding), which runs to the end.
func (a *inst) appendEncoding(b []byte) []byte {
	b = binary.AppendUvarint(b, uint64(len(a.queue)))
	for _, q := range a.queue {
		b = append(b, byte(q.kind))
		b = binary.AppendUvarint(b, uint64(q.id))
		b = binary.AppendVarint(b, int64(q.state))
	}
	b = appendIDs(b, a.sent)
	b = appendIDs(b, a.eff)
	b = appendIDs(b, a.silent)
	b = binary.AppendVarint(b, int64(a.orphan))
	b = binary.AppendVarint(b, int64(a.pivot))
	return a.exec.AppendEncoding(b)
}

func appendIDs(b []byte, ids []uint32) []byte {
	b = binary.AppendUvarint(b, uint64(len(ids)))
	for _, id := range ids {
		b = binary.AppendUvarint(b, uint64(id))
	}
	return b
}

var errEncoding = errors.New("checker: corrupt state encoding")

// decode reads an encoding made by appendEncoding into a.
func (a *inst) decode(b []byte) error {
	r := decoder{b: b}
	n := r.uvarint()
	a.queue = a.queue[:0]
	for i := uint64(0); i < n && r.err == nil; i++ {
		a.queue = append(a.queue, qitem{kind: model.CommandKind(r.byte()), id: uint32(r.uvarint()), state: int32(r.varint())})
	}
	a.sent = r.ids(a.sent[:0])
	a.eff = r.ids(a.eff[:0])
	a.silent = r.ids(a.silent[:0])
	a.orphan = int32(r.varint())
	a.pivot = int32(r.varint())
	if r.err != nil {
		return r.err
	}
	return model.DecodeInto(&a.exec, r.b)
}

// decodeSlow is decode with the kernel's own decoder only.
func (a *inst) decodeSlow(b []byte) error {
	r := decoder{b: b}
	n := r.uvarint()
	a.queue = a.queue[:0]
	for i := uint64(0); i < n && r.err == nil; i++ {
		a.queue = append(a.queue, qitem{kind: model.CommandKind(r.byte()), id: uint32(r.uvarint()), state: int32(r.varint())})
	}
	a.sent = r.ids(a.sent[:0])
	a.eff = r.ids(a.eff[:0])
	a.silent = r.ids(a.silent[:0])
	a.orphan = int32(r.varint())
	a.pivot = int32(r.varint())
	if r.err != nil {
		return r.err
	}
	e, err := model.DecodeExecution(r.b)
	if err != nil {
		return err
	}
	a.exec = *e
	return nil
}

type decoder struct {
	b   []byte
	err error
}

func (r *decoder) byte() byte {
	if len(r.b) == 0 {
		r.err = errEncoding
		return 0
	}
	c := r.b[0]
	r.b = r.b[1:]
	return c
}

func (r *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(r.b)
	if n <= 0 {
		r.err = errEncoding
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *decoder) varint() int64 {
	v, n := binary.Varint(r.b)
	if n <= 0 {
		r.err = errEncoding
		return 0
	}
	r.b = r.b[n:]
	return v
}

func (r *decoder) ids(dst []uint32) []uint32 {
	n := r.uvarint()
	for i := uint64(0); i < n && r.err == nil; i++ {
		dst = append(dst, uint32(r.uvarint()))
	}
	return dst
}

// Sorted id sets.

func hasID(s []uint32, id uint32) bool {
	_, ok := slices.BinarySearch(s, id)
	return ok
}

func addID(s []uint32, id uint32) []uint32 {
	i, ok := slices.BinarySearch(s, id)
	if ok {
		return s
	}
	return slices.Insert(s, i, id)
}

func removeID(s []uint32, id uint32) []uint32 {
	i, ok := slices.BinarySearch(s, id)
	if !ok {
		return s
	}
	return slices.Delete(s, i, i+1)
}

// intentQueued reports whether the append of id's intent is still waiting
// in q: the intent is not durable yet.
func intentQueued(q []qitem, id uint32) bool {
	for _, it := range q {
		if it.kind == model.AppendIntent && it.id == id {
			return true
		}
	}
	return false
}

func sumRetries(t *model.Thread) uint64 {
	var n uint64
	for _, r := range t.Retries {
		n += uint64(r)
	}
	return n
}

// awaits reports whether execution s waits for invocation or timer id.
func awaits(s *model.Execution, id uint32) bool {
	if id == 0 {
		return false
	}
	if s.Timer == id {
		return true
	}
	for i := range s.Threads {
		t := &s.Threads[i]
		if t.Wait == id && (t.Phase == model.PhaseRun || t.Phase == model.PhaseBackoff || t.Phase == model.PhaseTimer) {
			return true
		}
	}
	return false
}

// isTimer reports whether id is a timer of s (a backoff, a wait, the
// execution's timeout).
func isTimer(s *model.Execution, id uint32) bool {
	if s.Timer == id {
		return true
	}
	for i := range s.Threads {
		t := &s.Threads[i]
		if t.Wait == id && (t.Phase == model.PhaseBackoff || t.Phase == model.PhaseTimer) {
			return true
		}
	}
	return false
}

// stateName names state i for messages.
func stateName(m *model.Machine, i int32) string {
	if i < 0 || int(i) >= len(m.States) {
		return fmt.Sprintf("state %d", i)
	}
	return m.States[i].Name
}

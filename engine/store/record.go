package store

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
)

// Kind says what a record is.
type Kind uint8

// Record kinds.
const (
	// KindEvent: an event the kernel stepped (model.Event in Body).
	KindEvent Kind = 1
	// KindIntent: the intent of an effect, appended before the effect
	// (model.Command in Body).
	KindIntent Kind = 2
)

// String names the kind.
func (k Kind) String() string {
	switch k {
	case KindEvent:
		return "event"
	case KindIntent:
		return "intent"
	}
	return fmt.Sprintf("kind(%d)", uint8(k))
}

// Record is one entry of an execution's log.
type Record struct {
	// Pos is the record's position in the store (the order of appends
	// across executions); assigned by Append, 0 before.
	Pos  int64
	Exec string
	// Seq numbers the records of one execution from 1, without gaps.
	Seq uint64
	// Time is the engine's clock when the record was made (Unix ns).
	Time int64
	Kind Kind
	// Audit fields, copies of what Body holds, readable without the
	// engine: the event or effect type ("succeeded", "invoke", ...), the
	// state and function it concerns, the attempt, the idempotency key and
	// the error name.
	Type     string
	State    string
	Function string
	Attempt  uint32
	Key      string
	Error    string
	// Body is the engine's faithful encoding of the event or command.
	Body []byte
	// Prev is the Hash of the previous record of the execution (zero for
	// the first), Hash this record's own hash, MAC its signature.
	Prev [32]byte
	Hash [32]byte
	MAC  []byte

	// raw is the canonical encoding the hash is over, as sealed or as
	// read; bad says why a record read back cannot be trusted.
	raw []byte
	bad error
}

// recordMagic starts every canonical record encoding (format version 1).
const recordMagic = "NXR1"

// Canonical returns the canonical encoding of r, the bytes its hash is
// over and that a store keeps: every field but Pos, Hash and MAC, in a
// fixed order, strings and byte strings length-prefixed.
func (r *Record) Canonical() []byte {
	if r.raw != nil {
		return r.raw
	}
	return r.appendCanonical(make([]byte, 0, 96+len(r.Exec)+len(r.Type)+len(r.State)+len(r.Function)+len(r.Key)+
		len(r.Error)+len(r.Body)))
}

func (r *Record) appendCanonical(b []byte) []byte {
	str := func(s string) {
		b = binary.AppendUvarint(b, uint64(len(s)))
		b = append(b, s...)
	}
	b = append(b, recordMagic...)
	b = append(b, r.Prev[:]...)
	str(r.Exec)
	b = binary.AppendUvarint(b, r.Seq)
	b = binary.AppendVarint(b, r.Time)
	b = append(b, byte(r.Kind))
	str(r.Type)
	str(r.State)
	str(r.Function)
	b = binary.AppendUvarint(b, uint64(r.Attempt))
	str(r.Key)
	str(r.Error)
	b = binary.AppendUvarint(b, uint64(len(r.Body)))
	return append(b, r.Body...)
}

// ErrBadEncoding: a record's stored encoding cannot be read.
var ErrBadEncoding = errors.New("record encoding cannot be read")

// DecodeRecord reads a canonical encoding (Canonical) back into a record,
// keeping the bytes, over which Check computes the hash.
func DecodeRecord(raw []byte) (*Record, error) {
	r := &Record{raw: raw}
	b := raw
	if len(b) < len(recordMagic)+32 || string(b[:len(recordMagic)]) != recordMagic {
		return nil, ErrBadEncoding
	}
	b = b[len(recordMagic):]
	copy(r.Prev[:], b[:32])
	b = b[32:]
	bad := false
	uv := func() uint64 {
		v, n := binary.Uvarint(b)
		if n <= 0 {
			bad = true
			return 0
		}
		b = b[n:]
		return v
	}
	field := func() []byte {
		n := uv()
		if bad || n > uint64(len(b)) {
			bad = true
			return nil
		}
		v := b[:n:n]
		b = b[n:]
		return v
	}
	r.Exec = string(field())
	r.Seq = uv()
	if t, n := binary.Varint(b); n > 0 && len(b) > n {
		r.Time, r.Kind, b = t, Kind(b[n]), b[n+1:]
	} else {
		bad = true
	}
	r.Type, r.State, r.Function = string(field()), string(field()), string(field())
	if a := uv(); a <= 1<<32-1 {
		r.Attempt = uint32(a)
	} else {
		bad = true
	}
	r.Key, r.Error = string(field()), string(field())
	r.Body = field()
	if bad || len(b) != 0 {
		return nil, ErrBadEncoding
	}
	return r, nil
}

// decodeHeader reads what the chain needs from a canonical encoding
// (previous hash, execution, sequence number) without the rest: Verify
// hashes the bytes themselves.
func decodeHeader(raw []byte) (prev [32]byte, exec []byte, seq uint64, ok bool) {
	b := raw
	if len(b) < len(recordMagic)+32 || string(b[:len(recordMagic)]) != recordMagic {
		return prev, nil, 0, false
	}
	copy(prev[:], b[len(recordMagic):])
	b = b[len(recordMagic)+32:]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) {
		return prev, nil, 0, false
	}
	exec, b = b[k:k+int(n)], b[k+int(n):]
	seq, k = binary.Uvarint(b)
	return prev, exec, seq, k > 0
}

// Digest computes the hash of r: the SHA-256 of its canonical encoding.
func (r *Record) Digest() [32]byte {
	return sha256.Sum256(r.Canonical())
}

// Seal sets r's Prev to prev, computes its canonical encoding and Hash,
// and signs it with key when key is not empty.
func (r *Record) Seal(prev [32]byte, key []byte) {
	r.Prev = prev
	r.raw, r.bad = nil, nil
	r.raw = r.Canonical()
	r.Hash = sha256.Sum256(r.raw)
	r.MAC = nil
	if len(key) > 0 {
		r.MAC = mac(key, r.Hash[:])
	}
}

// Check errors name what is wrong with a record or snapshot.
var (
	ErrBadHash     = errors.New("hash does not match the record's content")
	ErrBadMAC      = errors.New("signature does not match (wrong log key, or the record was rewritten)")
	ErrUnsigned    = errors.New("record is not signed but a log key was given")
	ErrBadPrev     = errors.New("previous-record hash does not match the record before it")
	ErrBadSequence = errors.New("sequence number does not follow the record before it")
	// ErrMisfiled: the record is stored under another execution or
	// sequence number than its content says.
	ErrMisfiled = errors.New("record is stored under another execution or sequence number than it holds")
)

// Check verifies r's own hash and, with a key, its signature. It does not
// check r's place in the chain (Prev, Seq).
func (r *Record) Check(key []byte) error {
	if r.bad != nil {
		return r.bad
	}
	if r.Digest() != r.Hash {
		return ErrBadHash
	}
	if len(key) == 0 {
		return nil
	}
	if len(r.MAC) == 0 {
		return ErrUnsigned
	}
	if !hmac.Equal(r.MAC, mac(key, r.Hash[:])) {
		return ErrBadMAC
	}
	return nil
}

func mac(key, msg []byte) []byte {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	return m.Sum(nil)
}

const snapshotDomain = "nexus/snapshot/v1\x00"

// Digest is the hash of the snapshot's content (every field but MAC and
// Time).
func (s *Snapshot) Digest() [32]byte {
	h := sha256.New()
	var b [binary.MaxVarintLen64]byte
	bytes := func(v []byte) {
		n := binary.PutUvarint(b[:], uint64(len(v)))
		h.Write(b[:n])
		h.Write(v)
	}
	h.Write([]byte(snapshotDomain))
	bytes([]byte(s.Exec))
	n := binary.PutUvarint(b[:], s.Seq)
	h.Write(b[:n])
	h.Write(s.Hash[:])
	bytes(s.State)
	bytes(s.Meta)
	var out [32]byte
	h.Sum(out[:0])
	return out
}

// Sign sets the snapshot's MAC under key (none when key is empty).
func (s *Snapshot) Sign(key []byte) {
	s.MAC = nil
	if len(key) > 0 {
		d := s.Digest()
		s.MAC = mac(key, d[:])
	}
}

// CheckMAC verifies the snapshot's signature under key; without a key
// there is nothing to check.
func (s *Snapshot) CheckMAC(key []byte) error {
	if len(key) == 0 {
		return nil
	}
	if len(s.MAC) == 0 {
		return ErrUnsigned
	}
	d := s.Digest()
	if !hmac.Equal(s.MAC, mac(key, d[:])) {
		return ErrBadMAC
	}
	return nil
}

// Chain checks that records continue a log whose head is (seq, hash):
// each record's own hash and signature, its sequence number and its
// previous-record hash. It returns the index of the first bad record and
// what is wrong, or -1 and nil.
func Chain(seq uint64, head [32]byte, key []byte, recs []*Record) (int, error) {
	for i, r := range recs {
		if err := r.Check(key); err != nil {
			return i, err
		}
		if r.Seq != seq+1 {
			return i, fmt.Errorf("%w: seq %d after %d", ErrBadSequence, r.Seq, seq)
		}
		if r.Prev != head {
			return i, ErrBadPrev
		}
		seq, head = r.Seq, r.Hash
	}
	return -1, nil
}

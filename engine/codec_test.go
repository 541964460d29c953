package engine

import (
	"bytes"
	"reflect"
	"testing"
	"time"

	"github.com/nexus-workflows/nexus/model"
	"pgregory.net/rapid"
)

func genBytes(t *rapid.T, label string) []byte {
	switch rapid.IntRange(0, 2).Draw(t, label+" kind") {
	case 0:
		return nil
	case 1:
		return []byte{}
	}
	return rapid.SliceOf(rapid.Byte()).Draw(t, label)
}

func genEvent(t *rapid.T) *model.Event {
	e := &model.Event{
		Kind:      model.EventKind(rapid.IntRange(1, 8).Draw(t, "kind")),
		Time:      rapid.Int64().Draw(t, "time"),
		ID:        rapid.Uint32().Draw(t, "id"),
		Thread:    rapid.Uint32().Draw(t, "thread"),
		Decide:    model.DecideKind(rapid.IntRange(0, 6).Draw(t, "decide")),
		Branch:    rapid.Int32().Draw(t, "branch"),
		Count:     rapid.Uint32().Draw(t, "count"),
		Limit:     rapid.Uint32().Draw(t, "limit"),
		Delay:     time.Duration(rapid.Int64().Draw(t, "delay")),
		Until:     rapid.Int64().Draw(t, "until"),
		Err:       rapid.String().Draw(t, "err"),
		Cause:     rapid.String().Draw(t, "cause"),
		ErrNull:   rapid.Bool().Draw(t, "errnull"),
		CauseNull: rapid.Bool().Draw(t, "causenull"),
		Data:      genBytes(t, "data"),
		Vars:      genBytes(t, "vars"),
		Key:       rapid.String().Draw(t, "key"),
		Timeout:   time.Duration(rapid.Int64().Draw(t, "timeout")),
		Heartbeat: time.Duration(rapid.Int64().Draw(t, "heartbeat")),
	}
	if rapid.Bool().Draw(t, "items") {
		n := rapid.IntRange(0, 4).Draw(t, "n items")
		e.Items = make([][]byte, n)
		for i := range e.Items {
			e.Items[i] = genBytes(t, "item")
		}
	}
	return e
}

func genCommand(t *rapid.T) *model.Command {
	return &model.Command{
		Kind:      model.CommandKind(rapid.IntRange(1, 8).Draw(t, "kind")),
		Effect:    model.CommandKind(rapid.IntRange(0, 8).Draw(t, "effect")),
		ID:        rapid.Uint32().Draw(t, "id"),
		Thread:    rapid.Uint32().Draw(t, "thread"),
		State:     rapid.Int32().Draw(t, "state"),
		Fn:        rapid.Int32().Draw(t, "fn"),
		Attempt:   rapid.Uint32().Draw(t, "attempt"),
		Comp:      rapid.Bool().Draw(t, "comp"),
		Decide:    model.DecideKind(rapid.IntRange(0, 6).Draw(t, "decide")),
		Catcher:   rapid.Int32().Draw(t, "catcher"),
		Delay:     time.Duration(rapid.Int64().Draw(t, "delay")),
		Until:     rapid.Int64().Draw(t, "until"),
		Timeout:   time.Duration(rapid.Int64().Draw(t, "timeout")),
		Heartbeat: time.Duration(rapid.Int64().Draw(t, "heartbeat")),
		Callback:  rapid.Bool().Draw(t, "callback"),
		Input:     genBytes(t, "input"),
		Key:       rapid.String().Draw(t, "key"),
		Status:    model.Status(rapid.IntRange(0, 8).Draw(t, "status")),
		Err:       rapid.String().Draw(t, "err"),
		Cause:     rapid.String().Draw(t, "cause"),
	}
}

// TestBodyRoundTrip: every event and command comes back from its record
// body exactly, nil and empty byte strings told apart.
func TestBodyRoundTrip(t *testing.T) {
	rapid.Check(t, func(t *rapid.T) {
		e := genEvent(t)
		got, err := DecodeEvent(AppendEvent(nil, e))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got, e) {
			t.Fatalf("event\n got %#v\nwant %#v", got, e)
		}
		c := genCommand(t)
		gc, err := DecodeCommand(AppendCommand(nil, c))
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(gc, c) {
			t.Fatalf("command\n got %#v\nwant %#v", gc, c)
		}
	})
}

func TestBodyErrors(t *testing.T) {
	ev := AppendEvent(nil, &model.Event{Kind: model.EvSucceeded, ID: 3, Data: []byte(`{"a":1}`)})
	for _, tc := range []struct {
		name string
		b    []byte
	}{
		{"empty", nil},
		{"command as event", AppendCommand(nil, &model.Command{Kind: model.Invoke})},
		{"truncated", ev[:len(ev)-2]},
		{"trailing tag out of order", append(append([]byte{}, ev...), evKind, 1)},
		{"unknown tag", append(append([]byte{}, ev...), evHeartbeat+1, 0)},
		{"no kind", []byte{bodyVersion, bodyEvent}},
	} {
		if _, err := DecodeEvent(tc.b); err == nil {
			t.Errorf("%s: decoded", tc.name)
		}
	}
}

func FuzzDecodeEvent(f *testing.F) {
	f.Add(AppendEvent(nil, &model.Event{Kind: model.EvDecided, Thread: 1, Decide: model.DecideInput, Items: [][]byte{nil, {}, []byte("1")}}))
	f.Add(AppendCommand(nil, &model.Command{Kind: model.AppendIntent, Effect: model.Invoke, Input: []byte("{}")}))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := DecodeEvent(b)
		if err != nil {
			return
		}
		// Whatever decodes re-encodes to something that decodes the same.
		again, err := DecodeEvent(AppendEvent(nil, e))
		if err != nil || !reflect.DeepEqual(again, e) {
			t.Fatalf("%#v re-encoded: %#v %v", e, again, err)
		}
	})
}

func FuzzDecodeCommand(f *testing.F) {
	f.Add(AppendCommand(nil, &model.Command{Kind: model.AppendIntent, Effect: model.StartTimer, Delay: time.Second}))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeCommand(b)
		if err != nil {
			return
		}
		enc := AppendCommand(nil, c)
		again, err := DecodeCommand(enc)
		if err != nil || !reflect.DeepEqual(again, c) || !bytes.Equal(AppendCommand(nil, again), enc) {
			t.Fatalf("%#v re-encoded: %#v %v", c, again, err)
		}
	})
}

package invoke

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"
	"unicode/utf8"
)

// FuzzCheck: any string is either a binding the registry accepts or a
// *URIError naming it; parsing never panics.
func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"exec:./bin/refund?arg=a&arg=b", "exec:///abs", "https://h/p?code=1#bearer_env=T&cloudevent&type=t",
		"lambda:arn:aws:lambda:eu-north-1:123456789012:function:f:prod", "lambda:arn:aws:lambda::1:function:f",
		"gcf:p-roject/europe-west1/f#cloudevent", "gcf:https://x/y", "go:fn", "go:", "x", ":", "http://[::1]:80/",
	} {
		f.Add(s)
	}
	var r Registry
	if err := r.Register("fn", Func(nil)); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, uri string) {
		err := r.Check(uri)
		if err == nil {
			return
		}
		var ue *URIError
		if !errors.As(err, &ue) || ue.URI != uri {
			t.Fatalf("Check(%q) = %v, want a *URIError naming the URI", uri, err)
		}
		if !errors.Is(err, ErrMalformedURI) && !errors.Is(err, ErrUnknownScheme) && !errors.Is(err, ErrUnknownFunction) {
			t.Fatalf("Check(%q) = %v: not one of the documented errors", uri, err)
		}
	})
}

// FuzzAddField: adding the idempotency key to a JSON object keeps it a
// JSON object with the same fields plus the key; anything else is left
// unchanged.
func FuzzAddField(f *testing.F) {
	for _, s := range []string{`{}`, ` {"a":1} `, `{"idempotencyKey":2}`, `[1]`, `"s"`, ``, `{`, `{"a":{"b":[1,{}]}}`} {
		f.Add([]byte(s), "idempotencyKey", "k")
	}
	f.Fuzz(func(t *testing.T, payload []byte, name, value string) {
		if !utf8.ValidString(name) || !utf8.ValidString(value) {
			t.Skip("field names and keys are valid UTF-8 (JSON would replace the bytes)")
		}
		out := addField(payload, name, value)
		var before map[string]json.RawMessage
		if name == "" || value == "" || json.Unmarshal(payload, &before) != nil || before == nil {
			if !bytes.Equal(out, payload) {
				t.Fatalf("addField(%q, %q, %q) = %q, want the payload unchanged", payload, name, value, out)
			}
			return
		}
		var after map[string]json.RawMessage
		if err := json.Unmarshal(out, &after); err != nil {
			t.Fatalf("addField(%q, %q, %q) = %q: %v", payload, name, value, out, err)
		}
		if _, had := before[name]; !had {
			var got string
			if err := json.Unmarshal(after[name], &got); err != nil || got != value {
				t.Fatalf("addField(%q, %q, %q) = %q: field is %s", payload, name, value, out, after[name])
			}
			delete(after, name)
		}
		if len(after) != len(before) {
			t.Fatalf("addField(%q, %q, %q) = %q: fields changed", payload, name, value, out)
		}
	})
}

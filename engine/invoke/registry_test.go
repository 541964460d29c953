package invoke

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

func TestRegistryCheck(t *testing.T) {
	var r Registry
	if err := r.Register("double", Func(func(context.Context, Request) (Response, error) { return Response{}, nil })); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		uri     string
		wantErr error  // nil: valid
		wantMsg string // in the error message
	}{
		{uri: "exec:./bin/refund"},
		{uri: "exec:/usr/bin/env?arg=cat"},
		{uri: "exec:///usr/bin/env"},
		{uri: "exec:jq?arg=-c&arg=."},
		{uri: "EXEC:./bin/refund"},
		{uri: "http://127.0.0.1:8080/fn"},
		{uri: "https://payments.example.com/charge#bearer_env=PAY_TOKEN"},
		{uri: "https://app.azurewebsites.net/api/charge?code=abc#functions_key_env=AZ_KEY"},
		{uri: "https://run.example/fn#cloudevent&type=com.example.charge&source=/shop"},
		{uri: "lambda:validate"},
		{uri: "lambda:validate:prod"},
		{uri: "lambda:validate:$LATEST"},
		{uri: "lambda:123456789012:function:validate"},
		{uri: "lambda:arn:aws:lambda:eu-north-1:123456789012:function:validate"},
		{uri: "lambda:arn:aws-us-gov:lambda:us-gov-west-1:123456789012:function:validate:3"},
		{uri: "gcf:https://europe-west1-my-project.cloudfunctions.net/charge"},
		{uri: "gcf:http://127.0.0.1:8080/echo#cloudevent"},
		{uri: "gcf:my-project/europe-west1/charge"},
		{uri: "go:double"},

		{uri: "", wantErr: ErrMalformedURI, wantMsg: "empty URI"},
		{uri: "./bin/refund", wantErr: ErrMalformedURI, wantMsg: "no scheme"},
		{uri: "1x:foo", wantErr: ErrMalformedURI, wantMsg: "not a URI scheme"},
		{uri: "ftp://host/x", wantErr: ErrUnknownScheme, wantMsg: `no invoker for "ftp"; known schemes: exec, gcf, go, http, https, lambda`},
		{uri: "exec:", wantErr: ErrMalformedURI, wantMsg: "no program"},
		{uri: "exec:./bin/x --flag", wantErr: ErrMalformedURI, wantMsg: "white space"},
		{uri: "exec:./bin/x?flag=1", wantErr: ErrMalformedURI, wantMsg: `unknown parameter "flag"`},
		{uri: "http://", wantErr: ErrMalformedURI, wantMsg: "no host"},
		{uri: "http:foo", wantErr: ErrMalformedURI, wantMsg: "no host"},
		{uri: "https://user:hunter2@host/x", wantErr: ErrMalformedURI, wantMsg: "credentials in the URI"},
		{uri: "https://host/x#token=abc", wantErr: ErrMalformedURI, wantMsg: `unknown option "token"`},
		{uri: "https://host/x#bearer_env=", wantErr: ErrMalformedURI, wantMsg: "needs a value"},
		{uri: "https://host/x#type=a.b", wantErr: ErrMalformedURI, wantMsg: "add #cloudevent"},
		{uri: "https://host/%zz", wantErr: ErrMalformedURI, wantMsg: "not a URL"},
		{uri: "lambda:", wantErr: ErrMalformedURI, wantMsg: "no function"},
		{uri: "lambda:my function", wantErr: ErrMalformedURI, wantMsg: "not a Lambda function name"},
		{uri: "lambda:arn:aws:s3:::bucket", wantErr: ErrMalformedURI, wantMsg: "not a Lambda function name"},
		{uri: "gcf:charge", wantErr: ErrMalformedURI, wantMsg: "gcf:PROJECT/REGION/NAME"},
		{uri: "gcf:My_Project/europe-west1/charge", wantErr: ErrMalformedURI, wantMsg: "not a Google Cloud project id"},
		{uri: "gcf:my-project/europe/charge", wantErr: ErrMalformedURI, wantMsg: "not a Google Cloud region"},
		{uri: "gcf:ftp://host/x", wantErr: ErrMalformedURI, wantMsg: "gcf:PROJECT/REGION/NAME"},
		{uri: "go:", wantErr: ErrMalformedURI, wantMsg: "empty function name"},
		{uri: "go:a b", wantErr: ErrMalformedURI, wantMsg: "use letters"},
		{uri: "go:triple", wantErr: ErrUnknownFunction, wantMsg: `no Go function registered as "triple"`},
	}
	for _, tt := range tests {
		t.Run(tt.uri, func(t *testing.T) {
			err := r.Check(tt.uri)
			if tt.wantErr == nil {
				if err != nil {
					t.Fatalf("Check(%q) = %v, want nil", tt.uri, err)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("Check(%q) = %v, want %v", tt.uri, err, tt.wantErr)
			}
			var ue *URIError
			if !errors.As(err, &ue) || ue.URI != tt.uri {
				t.Fatalf("Check(%q) = %#v, want a *URIError naming the URI", tt.uri, err)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("Check(%q) = %q, want it to mention %q", tt.uri, err, tt.wantMsg)
			}
			// Invoke rejects it the same way, without calling anything.
			_, ierr := r.Invoke(context.Background(), Request{Function: "f", URI: tt.uri})
			if !errors.Is(ierr, tt.wantErr) {
				t.Fatalf("Invoke(%q) = %v, want %v", tt.uri, ierr, tt.wantErr)
			}
		})
	}
}

func TestGCFShorthandURL(t *testing.T) {
	tg, err := parseGCF("gcf:my-project/europe-west1/charge#cloudevent&bearer_env=TOK")
	if err != nil {
		t.Fatal(err)
	}
	if got, want := tg.url.String(), "https://europe-west1-my-project.cloudfunctions.net/charge"; got != want {
		t.Errorf("url = %s, want %s", got, want)
	}
	if !tg.cloudEvent || tg.bearerEnv != "TOK" {
		t.Errorf("options = %+v, want cloudevent and bearer_env TOK", tg)
	}
}

func TestRegistryGoFunctions(t *testing.T) {
	var r Registry
	r.MaxPayloadBytes = 64
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(r.Register("echo", Func(func(_ context.Context, req Request) (Response, error) {
		return Response{Output: req.Input}, nil
	})))
	must(r.Register("key", Func(func(_ context.Context, req Request) (Response, error) {
		return Response{Output: []byte(`"` + req.Key + `"`)}, nil
	})))
	must(r.Register("declined", Func(func(context.Context, Request) (Response, error) {
		return Response{Error: "CardDeclined", Cause: "insufficient funds"}, nil
	})))
	must(r.Register("panics", Func(func(context.Context, Request) (Response, error) {
		panic("boom")
	})))
	must(r.Register("big", Func(func(context.Context, Request) (Response, error) {
		return Response{Output: []byte(`"` + strings.Repeat("x", 100) + `"`)}, nil
	})))
	block := make(chan struct{})
	defer close(block)
	must(r.Register("stuck", Func(func(context.Context, Request) (Response, error) {
		<-block // ignores its context: the call must return anyway
		return Response{}, nil
	})))
	must(r.Register("fails", Func(func(context.Context, Request) (Response, error) {
		return Response{}, errors.New("connection reset")
	})))

	if err := r.Register("echo", Func(nil)); err == nil || !strings.Contains(err.Error(), "already registered") {
		t.Errorf("second Register(echo) = %v, want 'already registered'", err)
	}
	if err := r.Register("bad name", Func(nil)); err == nil {
		t.Error("Register(bad name) succeeded")
	}

	tests := []struct {
		name      string
		req       Request
		wantOut   string
		wantError string // Response.Error
		wantCause string // in Response.Cause
		wantErr   error  // the returned error, errors.Is
	}{
		{name: "output", req: Request{URI: "go:echo", Input: []byte(`{"a":1}`)}, wantOut: `{"a":1}`},
		{name: "key", req: Request{URI: "go:key", Key: "exec-1/Charge/1"}, wantOut: `"exec-1/Charge/1"`},
		{name: "function error", req: Request{URI: "go:declined"}, wantError: "CardDeclined", wantCause: "insufficient funds"},
		{name: "panic", req: Request{URI: "go:panics"}, wantError: ErrorTaskFailed, wantCause: "panicked: boom"},
		{name: "input over limit", req: Request{URI: "go:echo", Input: []byte(`"` + strings.Repeat("y", 100) + `"`)},
			wantError: ErrorDataLimitExceeded, wantCause: "over the 64-byte payload limit"},
		{name: "output over limit", req: Request{URI: "go:big"}, wantError: ErrorDataLimitExceeded, wantCause: "more than 64 bytes"},
		{name: "deadline", req: Request{URI: "go:stuck", Timeout: 20 * time.Millisecond}, wantErr: context.DeadlineExceeded},
		{name: "call error", req: Request{URI: "go:fails"}, wantErr: errors.New("connection reset")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.req.Function = "fn"
			resp, err := r.Invoke(context.Background(), tt.req)
			checkResult(t, resp, err, tt.wantOut, tt.wantError, tt.wantCause, tt.wantErr)
		})
	}
}

func TestRegistryHandle(t *testing.T) {
	var r Registry
	mock := Func(func(_ context.Context, req Request) (Response, error) {
		return Response{Output: []byte(`"mocked ` + req.URI + `"`)}, nil
	})
	if err := r.Handle("lambda", mock); err != nil {
		t.Fatal(err)
	}
	if err := r.Handle("mock", mock); err != nil {
		t.Fatal(err)
	}
	if err := r.Handle("bad scheme", mock); err == nil {
		t.Error("Handle(bad scheme) succeeded")
	}
	for _, uri := range []string{"lambda:validate", "mock:anything at all"} {
		resp, err := r.Invoke(context.Background(), Request{Function: "f", URI: uri})
		checkResult(t, resp, err, `"mocked `+uri+`"`, "", "", nil)
	}
	if err := r.Check("ftp://x"); err == nil || !strings.Contains(err.Error(), "exec, gcf, go, http, https, lambda, mock") {
		t.Errorf("Check(ftp) = %v, want the known schemes including mock", err)
	}
	if err := r.Handle("mock", nil); err != nil {
		t.Fatal(err)
	}
	if err := r.Check("mock:x"); !errors.Is(err, ErrUnknownScheme) {
		t.Errorf("after removing mock: Check = %v, want ErrUnknownScheme", err)
	}
}

// checkResult compares an Invoke result with what a table row wants: an
// error matching wantErr (errors.Is, or the message for an ad-hoc error),
// else a function error wantError whose cause contains wantCause, else
// the output wantOut.
func checkResult(t *testing.T, resp Response, err error, wantOut, wantError, wantCause string, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if err == nil || !(errors.Is(err, wantErr) || strings.Contains(err.Error(), wantErr.Error())) {
			t.Fatalf("err = %v (resp %+v), want %v", err, resp, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("err = %v, want a response", err)
	}
	if resp.Error != wantError {
		t.Fatalf("Error = %q (cause %q, output %s), want %q", resp.Error, resp.Cause, resp.Output, wantError)
	}
	if wantError != "" {
		if !strings.Contains(resp.Cause, wantCause) {
			t.Fatalf("Cause = %q, want it to contain %q", resp.Cause, wantCause)
		}
		return
	}
	if string(resp.Output) != wantOut {
		t.Fatalf("Output = %s, want %s", resp.Output, wantOut)
	}
}

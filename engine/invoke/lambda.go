package invoke

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
	"github.com/aws/aws-sdk-go-v2/service/lambda/types"
	"github.com/aws/smithy-go"
)

// LambdaInvoker calls AWS Lambda functions with the SDK's Invoke:
// bindings lambda:NAME, lambda:NAME:QUALIFIER (version or alias),
// lambda:ACCOUNT:function:NAME and lambda:arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER].
// A full ARN's region chooses the regional client; otherwise Region, else
// the AWS configuration (AWS_REGION, ~/.aws/config).
//
// Request.Async selects InvocationType Event (fire and forget: Lambda
// answers 202 and the output is null); otherwise RequestResponse.
//
// The idempotency key travels twice: in the payload, as the field
// PayloadKeyField ("idempotencyKey") added to a JSON object input that
// does not have it already, where a handler or Powertools' idempotency
// utility reads it; and always in the client context
// (context.clientContext.custom in Node, lambdacontext.ClientContext.Custom
// in Go) with the caller's identity:
//
//	{"custom": {"idempotencyKey": KEY, "function": F, "execution": E, "state": S,
//	            "attempt": "N", "taskToken": T, "traceparent": TP}}
//
// (strings only, as Go handlers decode it; empty entries left out). A
// task token is also added to an object payload as PayloadTokenField
// ("taskToken"), like $$.Task.Token in a Step Functions Parameters block.
//
// Errors are named as Step Functions names them, so Retry and Catch
// rules written for AWS work unchanged:
//
//	the function failed (FunctionError set)   the payload's errorType ("CustomBoomError",
//	                                          "Sandbox.Timedout", ...), Lambda.Unknown if
//	                                          none; cause: the error payload as sent
//	the Lambda API refused the call           Lambda.<error code>: Lambda.TooManyRequestsException,
//	                                          Lambda.ServiceException, Lambda.ResourceNotFoundException,
//	                                          Lambda.ResourceConflictException, ...;
//	                                          Lambda.AWSLambdaException when it gave no code
//	                                          or an error body the SDK cannot decode
//	the SDK failed (connection refused, no    Lambda.SdkClientException
//	credentials, response unreadable)
//	output over the payload limit             States.DataLimitExceeded
//	output that is not JSON                   States.TaskFailed
//
// Only the context ending (the call's deadline, cancellation) is returned
// as an error. The SDK does not retry by itself (MaxAttempts 1): every
// attempt is the workflow's, logged and governed by its Retry rules.
type LambdaInvoker struct {
	// Client makes every call when set (then Region, Endpoint,
	// Credentials and MaxAttempts are not used). *lambda.Client fits.
	Client LambdaClient
	// Region is used for bindings that are not full ARNs ("": the AWS
	// configuration's).
	Region string
	// Endpoint overrides the service endpoint (BaseEndpoint), e.g.
	// "http://127.0.0.1:3002" for a local emulator.
	Endpoint string
	// Credentials signs the calls (nil: the AWS default credential chain).
	Credentials aws.CredentialsProvider
	// MaxAttempts is the SDK's attempts per call (0: 1, no SDK retries).
	MaxAttempts int
	// PayloadKeyField and PayloadTokenField name the payload fields that
	// carry the idempotency key and the task token ("": "idempotencyKey"
	// and "taskToken"; "-": do not add).
	PayloadKeyField   string
	PayloadTokenField string
	// MaxPayloadBytes bounds the input and the output (0: the Registry's
	// limit, else DefaultMaxPayloadBytes).
	MaxPayloadBytes int64
	// Timeout applies when the request sets none (0: DefaultTimeout).
	Timeout time.Duration

	mu      sync.Mutex
	clients map[string]*lambda.Client // by region ("" for the configured one)
}

// LambdaClient is the part of *lambda.Client the invoker uses.
type LambdaClient interface {
	Invoke(ctx context.Context, in *lambda.InvokeInput, optFns ...func(*lambda.Options)) (*lambda.InvokeOutput, error)
}

// Lambda error names the invoker produces itself (see LambdaInvoker).
const (
	ErrorLambdaUnknown   = "Lambda.Unknown"
	ErrorLambdaSdkClient = "Lambda.SdkClientException"
	ErrorLambdaAWSLambda = "Lambda.AWSLambdaException"
)

// maxClientContextBytes is Lambda's limit on the base64-encoded client context.
const maxClientContextBytes = 3583

// Invoke calls the Lambda function req.URI names.
func (l *LambdaInvoker) Invoke(ctx context.Context, req Request) (Response, error) {
	t, err := parseLambda(req.URI)
	if err != nil {
		return Response{}, fmt.Errorf("invoke %s: %w", req.Function, err)
	}
	return l.call(ctx, req, t, maxBytes(l.MaxPayloadBytes))
}

type lambdaTarget struct {
	name   string // FunctionName as the API takes it
	region string // from a full ARN, else ""
}

// lambdaName is the Invoke API's FunctionName pattern.
var lambdaName = regexp.MustCompile(`^(arn:(aws[a-zA-Z-]*)?:lambda:)?([a-z]{2}(-gov)?-[a-z]+-\d:)?(\d{12}:)?(function:)?([a-zA-Z0-9-_.]+)(:(\$LATEST|[a-zA-Z0-9-_]+))?$`)

// parseLambda reads lambda:NAME or lambda:ARN.
func parseLambda(uri string) (lambdaTarget, error) {
	name := uri[len("lambda:"):]
	switch {
	case name == "":
		return lambdaTarget{}, malformed(uri, "no function; write lambda:NAME or lambda:arn:aws:lambda:REGION:ACCOUNT:function:NAME")
	case len(name) > 170:
		return lambdaTarget{}, malformed(uri, "function name or ARN longer than 170 characters")
	case !lambdaName.MatchString(name):
		return lambdaTarget{}, malformed(uri, "%q is not a Lambda function name or ARN (letters, digits, - and _; or arn:aws:lambda:REGION:ACCOUNT:function:NAME[:QUALIFIER])", name)
	}
	t := lambdaTarget{name: name}
	if strings.HasPrefix(name, "arn:") {
		parts := strings.Split(name, ":")
		if len(parts) < 7 || parts[3] == "" {
			return lambdaTarget{}, malformed(uri, "ARN without a region; want arn:aws:lambda:REGION:ACCOUNT:function:NAME")
		}
		t.region = parts[3]
	}
	return t, nil
}

// client returns the client for a region, creating it on first use.
func (l *LambdaInvoker) client(ctx context.Context, region string) (LambdaClient, error) {
	if l.Client != nil {
		return l.Client, nil
	}
	if region == "" {
		region = l.Region
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if c := l.clients[region]; c != nil {
		return c, nil
	}
	var opts []func(*config.LoadOptions) error
	if region != "" {
		opts = append(opts, config.WithRegion(region))
	}
	if l.Credentials != nil {
		opts = append(opts, config.WithCredentialsProvider(l.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("AWS configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no AWS region: bind a full ARN, set LambdaInvoker.Region or AWS_REGION")
	}
	attempts := l.MaxAttempts
	if attempts <= 0 {
		attempts = 1
	}
	c := lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		if l.Endpoint != "" {
			o.BaseEndpoint = aws.String(l.Endpoint)
		}
		o.RetryMaxAttempts = attempts
	})
	if l.clients == nil {
		l.clients = make(map[string]*lambda.Client)
	}
	l.clients[region] = c
	return c, nil
}

func (l *LambdaInvoker) call(ctx context.Context, req Request, t lambdaTarget, limit int64) (Response, error) {
	if resp, ok := checkInput(req, limit); !ok {
		return resp, nil
	}
	ctx, cancel := withTimeout(ctx, req, l.Timeout)
	defer cancel()
	where := "lambda " + t.name

	client, err := l.client(ctx, t.region)
	if err != nil {
		if ctx.Err() != nil {
			return Response{}, fmt.Errorf("invoke %s (%s): %w", req.Function, where, ctx.Err())
		}
		return Response{Error: ErrorLambdaSdkClient, Cause: bound(err.Error())}, nil
	}
	payload := req.Input
	payload = addField(payload, fieldName(l.PayloadKeyField, "idempotencyKey"), req.Key)
	payload = addField(payload, fieldName(l.PayloadTokenField, "taskToken"), req.TaskToken)
	cc, err := clientContext(req)
	if err != nil {
		return Response{Error: ErrorTaskFailed, Cause: fmt.Sprintf("%s: %v", where, err)}, nil
	}
	in := &lambda.InvokeInput{
		FunctionName:   aws.String(t.name),
		InvocationType: types.InvocationTypeRequestResponse,
		Payload:        payload,
		ClientContext:  aws.String(cc),
	}
	if req.Async {
		in.InvocationType = types.InvocationTypeEvent
	}
	out, err := client.Invoke(ctx, in)
	if err != nil {
		if ctx.Err() != nil || errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
			return Response{}, fmt.Errorf("invoke %s (%s): %w", req.Function, where, err)
		}
		return lambdaAPIError(err), nil
	}
	if int64(len(out.Payload)) > limit {
		return outputTooLarge(req, int64(len(out.Payload)), limit), nil
	}
	if fe := aws.ToString(out.FunctionError); fe != "" {
		return lambdaFunctionError(fe, out.Payload), nil
	}
	if req.Async {
		return Response{Output: []byte("null")}, nil
	}
	return jsonOutput(req, out.Payload, "payload"), nil
}

// lambdaFunctionError names a failure the function itself reported
// (FunctionError "Unhandled" or "Handled"): its errorType, with the error
// payload as the cause, as Step Functions reports it.
func lambdaFunctionError(functionError string, payload []byte) Response {
	var p struct {
		ErrorType    string `json:"errorType"`
		ErrorMessage string `json:"errorMessage"`
	}
	_ = json.Unmarshal(payload, &p)
	name := strings.TrimSpace(p.ErrorType)
	if name == "" {
		name = ErrorLambdaUnknown
	}
	cause := strings.TrimSpace(string(payload))
	if cause == "" {
		cause = "FunctionError: " + functionError
	}
	return Response{Error: boundTo(name, 256), Cause: bound(cause)}
}

// lambdaAPIError names an error of the Invoke call itself.
func lambdaAPIError(err error) Response {
	var api smithy.APIError
	if !errors.As(err, &api) {
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() >= 300 {
			// The service answered with an error the SDK could not
			// decode (no error code): still the service's error.
			return Response{Error: ErrorLambdaAWSLambda, Cause: bound(fmt.Sprintf("HTTP %d: %v", re.HTTPStatusCode(), err))}
		}
		return Response{Error: ErrorLambdaSdkClient, Cause: bound(err.Error())}
	}
	name := ErrorLambdaAWSLambda
	if code := api.ErrorCode(); code != "" && code != "UnknownError" {
		name = "Lambda." + code
	}
	cause := api.ErrorMessage()
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		cause = fmt.Sprintf("HTTP %d %s: %s", re.HTTPStatusCode(), api.ErrorCode(), cause)
	}
	return Response{Error: name, Cause: bound(cause)}
}

func fieldName(configured, def string) string {
	switch configured {
	case "":
		return def
	case "-":
		return ""
	}
	return configured
}

// addField adds "name": value to a JSON object payload that has no such
// field, keeping the rest of the bytes as they are. Other payloads (and an
// empty name or value) are returned unchanged.
func addField(payload []byte, name, value string) []byte {
	if name == "" || value == "" {
		return payload
	}
	trimmed := bytes.TrimLeft(payload, " \t\r\n")
	if len(trimmed) == 0 || trimmed[0] != '{' {
		return payload
	}
	var fields map[string]json.RawMessage
	if json.Unmarshal(payload, &fields) != nil {
		return payload
	}
	if _, has := fields[name]; has {
		return payload
	}
	k, _ := json.Marshal(name)
	v, _ := json.Marshal(value)
	body := trimmed[1:]
	sep := ","
	if len(fields) == 0 {
		sep = ""
	}
	out := make([]byte, 0, len(trimmed)+len(k)+len(v)+3)
	out = append(out, '{')
	out = append(out, k...)
	out = append(out, ':')
	out = append(out, v...)
	out = append(out, sep...)
	return append(out, body...)
}

// clientContext is the base64 client context carrying the caller's
// identity and the idempotency key (see LambdaInvoker). The task token is
// left out if the whole would exceed Lambda's limit (it is in the payload).
func clientContext(req Request) (string, error) {
	custom := map[string]string{"attempt": strconv.Itoa(req.Attempt)}
	for k, v := range map[string]string{
		"idempotencyKey": req.Key, "function": req.Function, "execution": req.Execution,
		"state": req.State, "traceparent": req.TraceParent, "taskToken": req.TaskToken,
	} {
		if v != "" {
			custom[k] = v
		}
	}
	for {
		b, err := json.Marshal(map[string]any{"custom": custom})
		if err != nil {
			return "", fmt.Errorf("client context: %w", err)
		}
		s := base64.StdEncoding.EncodeToString(b)
		if len(s) <= maxClientContextBytes {
			return s, nil
		}
		if _, has := custom["taskToken"]; !has {
			return "", fmt.Errorf("client context is %d bytes base64, over Lambda's %d-byte limit (execution and state names too long)", len(s), maxClientContextBytes)
		}
		delete(custom, "taskToken")
	}
}

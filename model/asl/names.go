package asl

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/nexus-workflows/nexus/model"
)

// function returns the name of the function a Task's Resource calls,
// adding a binding the first time a resource is seen. Tasks with the same
// resource share one function.
func (im *importer) function(resource string, p model.Pos) string {
	if name, ok := im.byURI[resource]; ok {
		return name
	}
	base := functionName(resource)
	name := base
	for i := 2; im.names[name]; i++ {
		name = fmt.Sprintf("%s-%d", base, i)
	}
	im.byURI[resource], im.names[name] = name, true
	im.w.Functions = append(im.w.Functions, &model.Function{Name: name, URI: resource,
		Src: model.Src{Pos: p, Keys: map[string]model.Pos{"uri": p}}})
	return name
}

// maxNameWords bounds the length of a generated function name.
const maxNameWords = 6

// functionName makes a readable, kebab-case name from a resource:
//
//	arn:aws:lambda:us-east-1:123456789012:function:ProcessOrder  process-order
//	arn:aws:states:::sns:publish                                 sns-publish
//	arn:aws:states:::sqs:sendMessage.waitForTaskToken            sqs-send-message-callback
//	arn:aws:states:::aws-sdk:s3:listObjectsV2                    s3-list-objects-v2
//	arn:aws:states:::states:startExecution.sync:2                states-start-execution-sync-2
//	arn:aws:states:us-east-1:123456789012:activity:Review        review
//	${ProcessFunctionArn}                                        process-function
func functionName(resource string) string {
	if _, rest, ok := strings.Cut(resource, "://"); ok {
		resource = rest // a URL: its scheme says nothing about the function
	}
	parts := splitARN(resource)
	rest := parts
	if len(parts) >= 6 && parts[0] == "arn" {
		service, tail := parts[2], parts[5:]
		switch {
		case service == "lambda" && tail[0] == "function" && len(tail) > 1:
			rest = tail[1:]
		case service == "states" && tail[0] == "activity" && len(tail) > 1:
			rest = tail[1:]
		case service == "states" && tail[0] == "aws-sdk" && len(tail) > 1:
			rest = tail[1:]
		default:
			rest = tail
		}
	}
	var ws []string
	for _, p := range rest {
		p = strings.ReplaceAll(p, ".waitForTaskToken", ".callback")
		ws = append(ws, words(p)...)
	}
	// "${ProcessFunctionArn}" names a function, not an ARN.
	if n := len(ws); n > 1 && ws[n-1] == "arn" {
		ws = ws[:n-1]
	}
	if len(ws) > maxNameWords {
		ws = ws[len(ws)-maxNameWords:]
	}
	if len(ws) == 0 {
		return "function"
	}
	return strings.Join(ws, "-")
}

// splitARN splits at colons, except those inside ${...} placeholders such
// as ${AWS::Region}.
func splitARN(s string) []string {
	var parts []string
	depth, start := 0, 0
	for i := 0; i < len(s); i++ {
		switch {
		case s[i] == '$' && i+1 < len(s) && s[i+1] == '{':
			depth++
			i++
		case s[i] == '}' && depth > 0:
			depth--
		case s[i] == ':' && depth == 0:
			parts = append(parts, s[start:i])
			start = i + 1
		}
	}
	return append(parts, s[start:])
}

// words splits an identifier into lower-case words at punctuation and at
// case changes: "listObjectsV2" gives list, objects, v2; "DDBGetItem" gives
// ddb, get, item.
func words(s string) []string {
	var ws []string
	var cur []rune
	rs := []rune(s)
	flush := func() {
		if len(cur) > 0 {
			ws = append(ws, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	for i, r := range rs {
		if !unicode.IsLetter(r) && !unicode.IsDigit(r) {
			flush()
			continue
		}
		if unicode.IsUpper(r) && len(cur) > 0 {
			prev := cur[len(cur)-1]
			nextLower := i+1 < len(rs) && unicode.IsLower(rs[i+1])
			if unicode.IsLower(prev) || unicode.IsDigit(prev) || (unicode.IsUpper(prev) && nextLower) {
				flush()
			}
		}
		cur = append(cur, r)
	}
	flush()
	return ws
}

// placeholders reports every ${...} substitution left in a string value:
// SAM, CloudFormation and CDK fill them in at deployment, so the workflow
// cannot run until they are bound.
func (im *importer) placeholders(root *model.Node) {
	root.Walk("", func(ptr string, n *model.Node) bool {
		if n.Kind != model.StringNode {
			return true
		}
		for s := n.Str; ; {
			i := strings.Index(s, "${")
			if i < 0 {
				break
			}
			j := strings.IndexByte(s[i:], '}')
			if j < 0 {
				break
			}
			name := s[i : i+j+1]
			msg := fmt.Sprintf("unresolved substitution %s: bind it before running", name)
			if strings.HasSuffix(ptr, "/Resource") {
				msg = fmt.Sprintf("unresolved substitution %s in a Resource: the function it names must be bound (functions: in the migrated file) before running", name)
			}
			im.warnf(n.Pos, ptr, CodePlaceholder, "%s", msg)
			s = s[i+j+1:]
		}
		return true
	})
}

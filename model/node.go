package model

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"strconv"
	"strings"

	"github.com/goccy/go-yaml"
	"github.com/goccy/go-yaml/ast"
	"github.com/goccy/go-yaml/parser"
	"github.com/goccy/go-yaml/token"
)

// NodeKind is the kind of a source value.
type NodeKind uint8

// Node kinds. JSON is a subset of YAML, so one tree serves both.
const (
	NullNode NodeKind = iota
	BoolNode
	IntNode
	FloatNode
	StringNode
	MapNode
	SeqNode
)

func (k NodeKind) String() string {
	return [...]string{"null", "boolean", "integer", "number", "string", "mapping", "sequence"}[k]
}

// A Node is a YAML or JSON value together with where it was written. Decoders
// of workflow files walk Nodes rather than Go values so that every finding
// can name a line and column.
type Node struct {
	Kind NodeKind
	Pos  Pos
	// Scalars.
	Bool  bool
	Int   int64
	Float float64
	Str   string
	// MapNode: keys (always StringNode after parsing) and values, in source order.
	Keys []*Node
	Vals []*Node
	// SeqNode items.
	Items []*Node
}

// MaxNodeDepth bounds the nesting of source values, so that a hostile file
// cannot exhaust the stack.
const MaxNodeDepth = 200

// MaxSourceBytes bounds the size of one workflow source file.
const MaxSourceBytes = 16 << 20

// ParseNode parses YAML or JSON source into a Node tree. A syntax error is
// returned as a Finding with the position of the offending token. Duplicate
// keys in a mapping are findings too: YAML forbids them and silently keeping
// one of them loses what the author wrote.
func ParseNode(file string, src []byte) (*Node, Findings) {
	if len(src) > MaxSourceBytes {
		return nil, Findings{{File: file, Pos: Pos{1, 1}, Severity: SeverityError, Code: "too-large",
			Message: fmt.Sprintf("file is %d bytes; the limit is %d", len(src), MaxSourceBytes)}}
	}
	// JSON is YAML, but the YAML parser forgives some malformed JSON
	// ("a": "b": "c"); a file that looks like JSON must be valid JSON.
	if t := bytes.TrimSpace(src); len(t) > 0 && (t[0] == '{' || t[0] == '[') && !json.Valid(src) {
		var v any
		err := json.Unmarshal(src, &v)
		p := Pos{1, 1}
		var se *json.SyntaxError
		if errors.As(err, &se) {
			p = offsetPos(src, int(se.Offset))
		}
		return nil, Findings{{File: file, Pos: p, Severity: SeverityError, Code: "syntax", Message: "syntax error: " + err.Error()}}
	}
	f, err := parseYAML(src)
	if err != nil {
		return nil, Findings{syntaxFinding(file, err)}
	}
	if len(f.Docs) == 0 || f.Docs[0].Body == nil {
		return nil, Findings{{File: file, Pos: Pos{1, 1}, Severity: SeverityError, Code: "empty", Message: "file is empty"}}
	}
	if len(f.Docs) > 1 {
		p := Pos{1, 1}
		// A second document may have no body ("---" alone), and goccy's
		// DocumentNode.GetToken dereferences it.
		t := f.Docs[1].Start
		if t == nil && f.Docs[1].Body != nil {
			t = f.Docs[1].Body.GetToken()
		}
		if t != nil && t.Position != nil {
			p = Pos{t.Position.Line, t.Position.Column}
		}
		return nil, Findings{{File: file, Pos: p, Severity: SeverityError, Code: "syntax",
			Message: "a workflow file holds one YAML document; found a second one"}}
	}
	c := converter{file: file, anchors: map[string]*Node{}}
	n := c.convert(f.Docs[0].Body, 0)
	return n, c.findings
}

// parseYAML guards the third-party parser: its panics on pathological input
// become syntax errors rather than crashes.
func parseYAML(src []byte) (f *ast.File, err error) {
	defer func() {
		if r := recover(); r != nil {
			f, err = nil, fmt.Errorf("cannot parse: %v", r)
		}
	}()
	return parser.ParseBytes(src, 0)
}

func syntaxFinding(file string, err error) Finding {
	f := Finding{File: file, Pos: Pos{1, 1}, Severity: SeverityError, Code: "syntax"}
	var se *yaml.SyntaxError
	if errors.As(err, &se) && se.Token != nil && se.Token.Position != nil {
		f.Pos = Pos{se.Token.Position.Line, se.Token.Position.Column}
		f.Message = "syntax error: " + se.Message
		return f
	}
	msg := err.Error()
	// The parser's own message may carry a position prefix like "[3:5] ".
	if strings.HasPrefix(msg, "[") {
		if i := strings.Index(msg, "]"); i > 0 {
			var l, c int
			if _, e := fmt.Sscanf(msg[1:i], "%d:%d", &l, &c); e == nil {
				f.Pos = Pos{l, c}
				msg = strings.TrimSpace(msg[i+1:])
			}
		}
	}
	if i := strings.IndexByte(msg, '\n'); i > 0 {
		msg = msg[:i]
	}
	f.Message = "syntax error: " + msg
	return f
}

type converter struct {
	file     string
	anchors  map[string]*Node
	findings Findings
}

func tokenPos(t *token.Token) Pos {
	if t == nil || t.Position == nil {
		return Pos{}
	}
	return Pos{t.Position.Line, t.Position.Column}
}

func (c *converter) errorf(p Pos, format string, args ...any) {
	c.findings = append(c.findings, Finding{File: c.file, Pos: p, Severity: SeverityError, Code: "syntax",
		Message: fmt.Sprintf(format, args...)})
}

func (c *converter) convert(n ast.Node, depth int) *Node {
	if n == nil {
		return &Node{Kind: NullNode}
	}
	p := tokenPos(n.GetToken())
	if depth > MaxNodeDepth {
		c.errorf(p, "values nested deeper than %d levels", MaxNodeDepth)
		return &Node{Kind: NullNode, Pos: p}
	}
	switch n := n.(type) {
	case *ast.NullNode:
		return &Node{Kind: NullNode, Pos: p}
	case *ast.BoolNode:
		return &Node{Kind: BoolNode, Pos: p, Bool: n.Value}
	case *ast.IntegerNode:
		switch v := n.Value.(type) {
		case int64:
			return &Node{Kind: IntNode, Pos: p, Int: v}
		case uint64:
			if v <= math.MaxInt64 {
				return &Node{Kind: IntNode, Pos: p, Int: int64(v)}
			}
			return &Node{Kind: FloatNode, Pos: p, Float: float64(v)}
		}
		f, err := strconv.ParseFloat(n.Token.Value, 64)
		if err != nil {
			c.errorf(p, "cannot read number %q", n.Token.Value)
		}
		return &Node{Kind: FloatNode, Pos: p, Float: f}
	case *ast.FloatNode:
		return &Node{Kind: FloatNode, Pos: p, Float: n.Value}
	case *ast.InfinityNode:
		return &Node{Kind: FloatNode, Pos: p, Float: n.Value}
	case *ast.NanNode:
		return &Node{Kind: FloatNode, Pos: p, Float: math.NaN()}
	case *ast.StringNode:
		return &Node{Kind: StringNode, Pos: p, Str: c.plain(n, p)}
	case *ast.LiteralNode:
		if n.Value == nil {
			return &Node{Kind: StringNode, Pos: p}
		}
		return &Node{Kind: StringNode, Pos: p, Str: n.Value.Value}
	case *ast.TagNode:
		return c.convert(n.Value, depth+1)
	case *ast.AnchorNode:
		v := c.convert(n.Value, depth+1)
		if n.Name != nil {
			c.anchors[n.Name.String()] = v
		}
		return v
	case *ast.AliasNode:
		name := ""
		if n.Value != nil {
			name = n.Value.String()
		}
		v, ok := c.anchors[name]
		if !ok {
			c.errorf(p, "unknown alias *%s", name)
			return &Node{Kind: NullNode, Pos: p}
		}
		return v
	case *ast.MappingValueNode:
		m := &Node{Kind: MapNode, Pos: p}
		c.addPair(m, n, depth)
		return m
	case *ast.MappingNode:
		m := &Node{Kind: MapNode, Pos: p}
		if n.IsFlowStyle && n.Start != nil {
			m.Pos = tokenPos(n.Start)
		} else if len(n.Values) > 0 {
			m.Pos = tokenPos(n.Values[0].Key.GetToken())
		}
		for _, mv := range n.Values {
			c.addPair(m, mv, depth)
		}
		return m
	case *ast.SequenceNode:
		s := &Node{Kind: SeqNode, Pos: p}
		if n.Start != nil {
			s.Pos = tokenPos(n.Start)
		}
		s.Items = make([]*Node, 0, len(n.Values))
		for _, v := range n.Values {
			s.Items = append(s.Items, c.convert(v, depth+1))
		}
		return s
	case *ast.CommentGroupNode, *ast.CommentNode:
		return &Node{Kind: NullNode, Pos: p}
	default:
		c.errorf(p, "unsupported YAML construct %s", n.Type())
		return &Node{Kind: NullNode, Pos: p}
	}
}

func (c *converter) addPair(m *Node, mv *ast.MappingValueNode, depth int) {
	if _, ok := mv.Key.(*ast.MergeKeyNode); ok {
		src := c.convert(mv.Value, depth+1)
		var srcs []*Node
		switch src.Kind {
		case MapNode:
			srcs = []*Node{src}
		case SeqNode:
			srcs = src.Items
		}
		for _, s := range srcs {
			if s.Kind != MapNode {
				c.errorf(s.Pos, "merge key << needs a mapping, found %s", s.Kind)
				continue
			}
			for i, k := range s.Keys {
				if m.Get(k.Str) == nil {
					m.Keys = append(m.Keys, k)
					m.Vals = append(m.Vals, s.Vals[i])
				}
			}
		}
		return
	}
	k := c.convert(mv.Key, depth+1)
	switch k.Kind {
	case StringNode:
	case IntNode, FloatNode, BoolNode, NullNode:
		// YAML allows scalar keys of any type; workflow files and JSON use
		// strings, so keep the text as written.
		k = &Node{Kind: StringNode, Pos: k.Pos, Str: strings.TrimSpace(mv.Key.String())}
	default:
		c.errorf(k.Pos, "mapping keys must be strings, found %s", k.Kind)
		return
	}
	if prev := m.Get(k.Str); prev != nil {
		c.errorf(k.Pos, "duplicate key %q (first at line %d)", k.Str, m.keyNode(k.Str).Pos.Line)
		return
	}
	m.Keys = append(m.Keys, k)
	m.Vals = append(m.Vals, c.convert(mv.Value, depth+1))
}

// Get returns the value under key in a mapping, or nil.
func (n *Node) Get(key string) *Node {
	if n == nil || n.Kind != MapNode {
		return nil
	}
	for i, k := range n.Keys {
		if k.Str == key {
			return n.Vals[i]
		}
	}
	return nil
}

func (n *Node) keyNode(key string) *Node {
	for _, k := range n.Keys {
		if k.Str == key {
			return k
		}
	}
	return nil
}

// KeyPos returns the position of key in a mapping, or the mapping's own
// position when the key is absent.
func (n *Node) KeyPos(key string) Pos {
	if k := n.keyNode(key); k != nil {
		return k.Pos
	}
	return n.Pos
}

// Value converts the node to a plain JSON value: map[string]any, []any,
// string, int64, float64, bool or nil. This is the value convention used for
// data throughout nexus.
func (n *Node) Value() any {
	if n == nil {
		return nil
	}
	switch n.Kind {
	case BoolNode:
		return n.Bool
	case IntNode:
		return n.Int
	case FloatNode:
		return n.Float
	case StringNode:
		return n.Str
	case MapNode:
		m := make(map[string]any, len(n.Keys))
		for i, k := range n.Keys {
			m[k.Str] = n.Vals[i].Value()
		}
		return m
	case SeqNode:
		s := make([]any, len(n.Items))
		for i, it := range n.Items {
			s[i] = it.Value()
		}
		return s
	}
	return nil
}

// Walk calls fn for n and every node below it, with its JSON pointer.
// Returning false from fn skips the node's children.
func (n *Node) Walk(pointer string, fn func(ptr string, n *Node) bool) {
	if n == nil || !fn(pointer, n) {
		return
	}
	switch n.Kind {
	case MapNode:
		for i, k := range n.Keys {
			n.Vals[i].Walk(pointer+"/"+EscapePointer(k.Str), fn)
		}
	case SeqNode:
		for i, it := range n.Items {
			it.Walk(pointer+"/"+strconv.Itoa(i), fn)
		}
	}
}

// EscapePointer escapes one JSON pointer reference token (RFC 6901).
func EscapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(s)
}

// offsetPos turns a byte offset into a line and column.
func offsetPos(src []byte, off int) Pos {
	off = min(max(off, 1), len(src))
	line := 1 + bytes.Count(src[:off-1], []byte("\n"))
	col := off - bytes.LastIndexByte(src[:off-1], '\n') - 1
	return Pos{line, max(col, 1)}
}

// plain returns the value of a string node. The YAML parser drops tabs
// inside unquoted scalars ("a<TAB>b" reads as "ab"); for a one-line plain
// scalar the text as written is recovered, and anything else with a tab is
// reported rather than silently changed.
func (c *converter) plain(n *ast.StringNode, p Pos) string {
	tok := n.Token
	if tok == nil || tok.Type != token.StringType || !strings.Contains(tok.Origin, "\t") {
		return n.Value
	}
	t := strings.Trim(tok.Origin, " \t\r\n")
	if !strings.ContainsAny(t, "\r\n") && strings.ReplaceAll(t, "\t", "") == strings.ReplaceAll(n.Value, "\t", "") {
		return t
	}
	c.errorf(p, "a tab inside an unquoted multi-line value cannot be read faithfully; quote the value")
	return n.Value
}

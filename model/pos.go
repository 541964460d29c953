package model

import (
	"bytes"
	"fmt"
	"sort"
	"strings"
)

// Pos is a 1-based line and column in a workflow source file. The zero Pos
// means "no position known".
type Pos struct {
	Line int
	Col  int
}

// IsValid reports whether p names a real position.
func (p Pos) IsValid() bool { return p.Line > 0 }

func (p Pos) String() string {
	if !p.IsValid() {
		return "-"
	}
	return fmt.Sprintf("%d:%d", p.Line, p.Col)
}

// Severity says whether a finding makes a file invalid.
type Severity int

// Severities, in increasing order of gravity.
const (
	SeverityInfo Severity = iota
	SeverityWarning
	SeverityError
)

func (s Severity) String() string {
	switch s {
	case SeverityInfo:
		return "info"
	case SeverityWarning:
		return "warning"
	default:
		return "error"
	}
}

// A Finding is one problem found in a workflow source: a syntax error, a
// schema violation, or a semantic one such as an unknown state name.
type Finding struct {
	File     string
	Pos      Pos
	Severity Severity
	// Code is a stable, machine-readable name for the kind of finding,
	// such as "unknown-state" or "unreachable".
	Code    string
	Message string
	// Pointer is the JSON pointer of the offending value, when known.
	Pointer string
}

// Error formats the finding as FILE:LINE:COL: message.
func (f Finding) Error() string {
	var b strings.Builder
	b.WriteString(f.File)
	if f.Pos.IsValid() {
		fmt.Fprintf(&b, ":%d:%d", f.Pos.Line, f.Pos.Col)
	}
	b.WriteString(": ")
	if f.Severity != SeverityError {
		b.WriteString(f.Severity.String())
		b.WriteString(": ")
	}
	b.WriteString(f.Message)
	if f.Pointer != "" {
		fmt.Fprintf(&b, " (at %s)", f.Pointer)
	}
	return b.String()
}

// Findings is a list of findings with helpers for reporting.
type Findings []Finding

// Errors counts the findings of error severity.
func (fs Findings) Errors() int {
	n := 0
	for _, f := range fs {
		if f.Severity == SeverityError {
			n++
		}
	}
	return n
}

// Err returns the findings as an error when at least one is an error, and
// nil otherwise.
func (fs Findings) Err() error {
	if fs.Errors() == 0 {
		return nil
	}
	return fs
}

// Error joins the findings, one per line.
func (fs Findings) Error() string {
	lines := make([]string, len(fs))
	for i, f := range fs {
		lines[i] = f.Error()
	}
	return strings.Join(lines, "\n")
}

// Sort orders findings by file, line and column, so that output is stable.
func (fs Findings) Sort() {
	sort.SliceStable(fs, func(i, j int) bool {
		a, b := fs[i], fs[j]
		if a.File != b.File {
			return a.File < b.File
		}
		if a.Pos.Line != b.Pos.Line {
			return a.Pos.Line < b.Pos.Line
		}
		return a.Pos.Col < b.Pos.Col
	})
}

// Render formats a finding the way compilers do: the FILE:LINE:COL: message
// line, then the offending source line and a caret under the column.
func (f Finding) Render(src []byte) string {
	var b strings.Builder
	b.WriteString(f.Error())
	b.WriteByte('\n')
	if line, ok := sourceLine(src, f.Pos.Line); ok && f.Pos.IsValid() {
		line = strings.ReplaceAll(line, "\t", " ")
		fmt.Fprintf(&b, "  %s\n", line)
		col := f.Pos.Col
		if col < 1 {
			col = 1
		}
		if col > len(line)+1 {
			col = len(line) + 1
		}
		fmt.Fprintf(&b, "  %s^\n", strings.Repeat(" ", col-1))
	}
	return b.String()
}

func sourceLine(src []byte, n int) (string, bool) {
	if n < 1 {
		return "", false
	}
	for i := 1; ; i++ {
		j := bytes.IndexByte(src, '\n')
		if i == n {
			if j < 0 {
				return strings.TrimRight(string(src), "\r"), len(src) > 0
			}
			return strings.TrimRight(string(src[:j]), "\r"), true
		}
		if j < 0 {
			return "", false
		}
		src = src[j+1:]
	}
}

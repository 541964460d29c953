package checker

import (
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/nexus-workflows/nexus/model"
)

// FileResult is everything nexus check found in one file: the findings
// of validation and of policies, and the model checker's report (nil when
// the workflow did not compile).
type FileResult struct {
	File     string
	Findings model.Findings
	Report   *Report
}

// SARIF 2.1.0 (OASIS), the subset nexus writes. Code scanning services
// annotate the line of each result's location.
type sarifLog struct {
	Schema  string     `json:"$schema"`
	Version string     `json:"version"`
	Runs    []sarifRun `json:"runs"`
}

type sarifRun struct {
	Tool       sarifTool      `json:"tool"`
	Results    []sarifResult  `json:"results"`
	Properties map[string]any `json:"properties,omitempty"`
}

type sarifTool struct {
	Driver sarifDriver `json:"driver"`
}

type sarifDriver struct {
	Name           string      `json:"name"`
	InformationURI string      `json:"informationUri,omitempty"`
	Rules          []sarifRule `json:"rules"`
}

type sarifRule struct {
	ID                   string        `json:"id"`
	Name                 string        `json:"name,omitempty"`
	ShortDescription     sarifMessage  `json:"shortDescription"`
	DefaultConfiguration *sarifDefault `json:"defaultConfiguration,omitempty"`
}

type sarifDefault struct {
	Level string `json:"level"`
}

type sarifMessage struct {
	Text string `json:"text"`
}

type sarifResult struct {
	RuleID    string          `json:"ruleId"`
	RuleIndex int             `json:"ruleIndex"`
	Level     string          `json:"level"`
	Message   sarifMessage    `json:"message"`
	Locations []sarifLocation `json:"locations,omitempty"`
	CodeFlows []sarifCodeFlow `json:"codeFlows,omitempty"`
}

type sarifLocation struct {
	PhysicalLocation sarifPhysical `json:"physicalLocation"`
	Message          *sarifMessage `json:"message,omitempty"`
}

type sarifPhysical struct {
	ArtifactLocation sarifArtifact `json:"artifactLocation"`
	Region           *sarifRegion  `json:"region,omitempty"`
}

type sarifArtifact struct {
	URI string `json:"uri"`
}

type sarifRegion struct {
	StartLine   int `json:"startLine"`
	StartColumn int `json:"startColumn,omitempty"`
}

type sarifCodeFlow struct {
	Message     *sarifMessage     `json:"message,omitempty"`
	ThreadFlows []sarifThreadFlow `json:"threadFlows"`
}

type sarifThreadFlow struct {
	Locations []sarifThreadFlowLocation `json:"locations"`
}

type sarifThreadFlowLocation struct {
	Location sarifLocation `json:"location"`
}

// sarifSchemaURI is the schema the log names: the OASIS 2.1.0 errata 01
// schema, which checker/testdata holds for the tests.
const sarifSchemaURI = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"

// WriteSARIF writes the results as one SARIF 2.1.0 run. Each violation
// is a result at the offending state's line, with its trace as a code
// flow; each finding (validation, policy) is a result at its position;
// incomplete verdicts and unreached witnesses are warnings.
func WriteSARIF(w io.Writer, files []FileResult) error {
	b := &sarifBuilder{index: map[string]int{}}
	for _, inv := range Invariants() {
		b.rule(inv.String(), inv.String(), inv.Summary(), "error")
	}
	for _, f := range files {
		for _, fd := range f.Findings {
			id := "validate/" + fd.Code
			if strings.HasPrefix(fd.Code, "policy") {
				id = fd.Code
			}
			level := sarifLevel(fd.Severity)
			b.rule(id, "", "workflow finding: "+fd.Code, level)
			b.result(id, level, fd.Message, f.File, fd.Pos.Line, fd.Pos.Col, nil)
		}
		r := f.Report
		if r == nil {
			continue
		}
		for _, res := range r.Results {
			for _, v := range res.Violations {
				b.result(res.Invariant.String(), "error", v.Invariant.String()+": "+v.Message, f.File, v.State.Line, v.State.Column, traceFlow(f.File, v.Trace))
			}
			if res.Verdict == Incomplete {
				b.result(res.Invariant.String(), "warning", fmt.Sprintf("%s: incomplete: %s", res.Invariant, res.Reason), f.File, 1, 1, nil)
			}
		}
		for _, wi := range r.Witnesses {
			if wi.Reached || !r.Complete {
				continue
			}
			id := "Sometimes." + wi.Name
			b.rule(id, wi.Name, "some execution should be able to: "+wi.Description, "warning")
			b.result(id, "warning", fmt.Sprintf("%s is never reached: it is not the case that %s", wi.Name, wi.Description), f.File, 1, 1, nil)
		}
	}
	log := sarifLog{Schema: sarifSchemaURI, Version: "2.1.0", Runs: []sarifRun{{
		Tool:    sarifTool{Driver: sarifDriver{Name: "nexus check", InformationURI: "https://github.com/nexus-workflows/nexus", Rules: b.rules}},
		Results: b.results,
	}}}
	if log.Runs[0].Results == nil {
		log.Runs[0].Results = []sarifResult{}
	}
	for _, f := range files {
		if f.Report != nil {
			// Every verdict holds within an abstraction and bounds.
			log.Runs[0].Properties = map[string]any{"abstraction": f.Report.Abstraction, "bounds": f.Report.Bounds}
			break
		}
	}
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(log)
}

func sarifLevel(s model.Severity) string {
	switch s {
	case model.SeverityError:
		return "error"
	case model.SeverityWarning:
		return "warning"
	}
	return "note"
}

type sarifBuilder struct {
	rules   []sarifRule
	index   map[string]int
	results []sarifResult
}

func (b *sarifBuilder) rule(id, name, desc, level string) int {
	if i, ok := b.index[id]; ok {
		return i
	}
	b.index[id] = len(b.rules)
	b.rules = append(b.rules, sarifRule{ID: id, Name: name, ShortDescription: sarifMessage{Text: desc}, DefaultConfiguration: &sarifDefault{Level: level}})
	return len(b.rules) - 1
}

func (b *sarifBuilder) result(id, level, msg, file string, line, col int, flows []sarifCodeFlow) {
	b.results = append(b.results, sarifResult{RuleID: id, RuleIndex: b.index[id], Level: level, Message: sarifMessage{Text: msg},
		Locations: []sarifLocation{location(file, line, col, "")}, CodeFlows: flows})
}

func location(file string, line, col int, msg string) sarifLocation {
	l := sarifLocation{PhysicalLocation: sarifPhysical{ArtifactLocation: sarifArtifact{URI: fileURI(file)}}}
	if line > 0 {
		l.PhysicalLocation.Region = &sarifRegion{StartLine: line, StartColumn: max(col, 1)}
	}
	if msg != "" {
		l.Message = &sarifMessage{Text: msg}
	}
	return l
}

// fileURI makes a relative URI reference of a file path.
func fileURI(file string) string {
	if file == "" {
		file = "-"
	}
	return (&url.URL{Path: filepath.ToSlash(file)}).String()
}

func traceFlow(file string, t *Trace) []sarifCodeFlow {
	if t == nil || len(t.Steps) == 0 {
		return nil
	}
	var locs []sarifThreadFlowLocation
	for i, s := range t.Steps {
		line, col := 1, 1
		if len(s.States) > 0 && s.States[0].Line > 0 {
			line, col = s.States[0].Line, s.States[0].Column
		}
		msg := fmt.Sprintf("%d. %s ⇒ %s", i+1, s.Event, s.After)
		if i == t.Loop {
			msg = "loop: " + msg
		}
		locs = append(locs, sarifThreadFlowLocation{Location: location(file, line, col, msg)})
	}
	return []sarifCodeFlow{{ThreadFlows: []sarifThreadFlow{{Locations: locs}}}}
}

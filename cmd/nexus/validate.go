package main

import (
	"encoding/json"
	"fmt"

	"github.com/nexus-workflows/nexus/model"
	"github.com/spf13/cobra"
)

func (e *env) validateCmd() *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "validate FILE...",
		Short: "Parse and validate workflow files",
		Long: `Parse and validate workflow files (nexus YAML/JSON or Step Functions ASL).

Every finding is printed as FILE:LINE:COL: message, followed by the source
line and a caret. All findings of every file are reported in one run.

Exit 0 when every file is valid, 1 when any has an error, 2 on usage or
I/O errors.`,
		Example: `  nexus validate workflow.yaml
  nexus validate -o json flows/*.yaml legacy.asl.json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError("-o must be text or json, not %q", output)
			}
			type fileResult struct {
				File     string        `json:"file"`
				Valid    bool          `json:"valid"`
				Findings []findingJSON `json:"findings"`
			}
			var results []fileResult
			bad, ioErr := 0, false
			for _, path := range args {
				s, _, fs, err := load(path)
				if err != nil {
					fmt.Fprintf(e.stderr, "nexus: %v\n", err)
					ioErr = true
					continue
				}
				r := fileResult{File: path, Valid: fs.Errors() == 0, Findings: []findingJSON{}}
				for _, f := range fs {
					r.Findings = append(r.Findings, toJSON(f))
					if output == "text" {
						fmt.Fprint(e.stderr, f.Render(s.src))
					}
				}
				if !r.Valid {
					bad++
				}
				results = append(results, r)
			}
			if output == "json" {
				enc := json.NewEncoder(e.stdout)
				enc.SetIndent("", "  ")
				if err := enc.Encode(results); err != nil {
					return err
				}
			} else if bad == 0 && !ioErr {
				fmt.Fprintf(e.stdout, "%d file(s) valid\n", len(results))
			}
			switch {
			case ioErr:
				return &exitError{code: exitUsage}
			case bad > 0:
				return findings()
			}
			return nil
		},
	}
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	return cmd
}

// findingJSON is the JSON form of a finding.
type findingJSON struct {
	File     string `json:"file"`
	Line     int    `json:"line"`
	Column   int    `json:"column"`
	Severity string `json:"severity"`
	Code     string `json:"code"`
	Message  string `json:"message"`
	Pointer  string `json:"pointer,omitempty"`
}

func toJSON(f model.Finding) findingJSON {
	return findingJSON{File: f.File, Line: f.Pos.Line, Column: f.Pos.Col, Severity: f.Severity.String(),
		Code: f.Code, Message: f.Message, Pointer: f.Pointer}
}

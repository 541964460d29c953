package main

import (
	"fmt"
	"os"

	"github.com/nexus-workflows/nexus/model"
	"github.com/nexus-workflows/nexus/model/asl"
	"github.com/spf13/cobra"
)

func (e *env) migrateCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "migrate",
		Short: "Convert workflows from other engines to nexus YAML",
	}
	var input, out string
	sf := &cobra.Command{
		Use:   "stepfunctions --input FILE [-o OUT.yaml]",
		Short: "Convert an AWS Step Functions (ASL) definition to a nexus workflow",
		Long: `Convert an Amazon States Language definition into a nexus workflow file.

Every state type, Retry and Catch, JSONPath and JSONata data flow, Assign
variables and intrinsic functions carry over. Each Task resource becomes a
function binding under functions:, to be rebound to run elsewhere.
Whatever cannot be carried is reported by name with its JSON pointer
(warning: not-carried), never dropped silently; unresolved ${...}
placeholders are reported too.

The written file is checked before it is written: it must parse, validate
and compile to the same machine as the definition.

Exit 0 converted, 1 the definition has errors, 2 usage or I/O error.`,
		Example: `  nexus migrate stepfunctions --input order.asl.json -o order.yaml`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if input == "" {
				return usageError("--input FILE is required")
			}
			s, err := readSource(input)
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			w, fs := asl.Import(input, s.src)
			if w != nil && fs.Errors() == 0 {
				fs = append(fs, model.Validate(w)...)
				fs.Sort()
			}
			for _, f := range fs {
				fmt.Fprint(e.stderr, f.Render(s.src))
			}
			if w == nil || fs.Errors() > 0 {
				return findings()
			}
			yaml, err := model.Format(w)
			if err != nil {
				return &exitError{code: exitFindings, err: fmt.Errorf("%s cannot be written as nexus YAML: %w", input, err)}
			}
			// The written file must mean what the definition meant.
			back, bfs := model.Parse(out, yaml)
			if bfs.Errors() > 0 {
				return &exitError{code: exitFindings, err: fmt.Errorf("internal error: the converted file does not parse:\n%v", bfs)}
			}
			if _, cfs := model.Compile(back); cfs.Errors() > 0 {
				return &exitError{code: exitFindings, err: fmt.Errorf("internal error: the converted file does not compile:\n%v", cfs)}
			}
			if out == "" || out == "-" {
				_, err = e.stdout.Write(yaml)
				return err
			}
			if err := os.WriteFile(out, yaml, 0o644); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			warn := ""
			if n := len(fs); n > 0 {
				warn = fmt.Sprintf(" (%d warning(s) above)", n)
			}
			fmt.Fprintf(e.stderr, "wrote %s: %d states%s\n", out, countStates(back), warn)
			return nil
		},
	}
	sf.Flags().StringVar(&input, "input", "", "the Step Functions definition (JSON, or YAML as SAM writes it)")
	sf.Flags().StringVarP(&out, "output", "o", "", "the nexus workflow to write (default standard output)")
	cmd.AddCommand(sf)
	return cmd
}

func countStates(w *model.Workflow) int {
	n := 0
	w.AllStates(func(*model.State) { n++ })
	return n
}

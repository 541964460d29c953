package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/goccy/go-graphviz"
	"github.com/nexus-workflows/nexus/graph"
	"github.com/spf13/cobra"
)

func (e *env) graphCmd() *cobra.Command {
	var out, format string
	cmd := &cobra.Command{
		Use:   "graph FILE",
		Short: "Draw a workflow as SVG, PNG, Graphviz DOT or Mermaid",
		Long: `Draw a workflow (nexus YAML/JSON or Step Functions ASL).

The format is --format, or else the extension of -o, or else svg. Without
-o the drawing goes to standard output. An invalid workflow is drawn too,
with a transition to a missing state ending at a red placeholder; its
findings are printed as warnings.`,
		Example: `  nexus graph corpus/examples/payment-reconciliation-fixed.yaml -o payment.svg
  nexus graph flow.yaml --format mermaid`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format == "" {
				format = strings.TrimPrefix(filepath.Ext(out), ".")
			}
			if format == "" {
				format = "svg"
			}
			s, err := readSource(args[0])
			if err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			w, fs := s.parse()
			if w == nil {
				for _, f := range fs {
					fmt.Fprint(e.stderr, f.Render(s.src))
				}
				return &exitError{code: exitUsage, err: fmt.Errorf("%s cannot be read as a workflow", args[0])}
			}
			if fs.Errors() == 0 {
				fs = append(fs, validateOnly(w)...)
			}
			for _, f := range fs {
				fmt.Fprintf(e.stderr, "warning: %s", f.Render(s.src))
			}
			var data []byte
			switch format {
			case "dot", "gv":
				data = []byte(graph.DOT(w, graph.Options{}))
			case "mermaid", "mmd":
				data = []byte(graph.Mermaid(w))
			case "svg", "png":
				data, err = graph.Render(cmd.Context(), graph.DOT(w, graph.Options{}), graphviz.Format(format))
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
			default:
				return usageError("--format must be svg, png, dot or mermaid, not %q", format)
			}
			if out == "" || out == "-" {
				_, err = e.stdout.Write(data)
				return err
			}
			if err := os.WriteFile(out, data, 0o644); err != nil {
				return &exitError{code: exitUsage, err: err}
			}
			fmt.Fprintf(e.stderr, "wrote %s (%d bytes)\n", out, len(data))
			return nil
		},
	}
	cmd.Flags().StringVarP(&out, "output", "o", "", "output file (default standard output)")
	cmd.Flags().StringVar(&format, "format", "", "svg, png, dot or mermaid (default: from -o's extension, else svg)")
	return cmd
}

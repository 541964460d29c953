package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/nexus-workflows/nexus/model/testrun"
	"github.com/spf13/cobra"
)

func (e *env) testCmd() *cobra.Command {
	var verbose bool
	cmd := &cobra.Command{
		Use:   "test FILE|DIR...",
		Short: "Run workflow test cases in memory with mocked functions",
		Long: `Run workflow test cases in memory, with mocked functions and a virtual clock.

A test file (*.test.yaml) names a workflow and lists cases: an input, the
outcomes of mocked functions (a sequence per function; the last repeats;
unlisted functions echo their input), and the expected status, output,
error and calls.

nexus test also runs conformance vectors (JSON files with definition,
input and expected, as in the Step Functions corpus): Task states return
{"echo": input, "task": name} unless task_failures says otherwise. Given a
directory, every vector and test file in it is run; a JSON file that is not
a vector (an index) is skipped and not counted.

The last line is "N passed, M failed". Exit 0 when all pass, 1 when any
fails, 2 on usage or I/O errors.`,
		Example: `  nexus test corpus/examples/payment-reconciliation.test.yaml
  nexus test ../shared/corpus/vectors ../shared/corpus/aws-recorded`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			var files []string
			for _, a := range args {
				fi, err := os.Stat(a)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				if !fi.IsDir() {
					files = append(files, a)
					continue
				}
				entries, err := os.ReadDir(a)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				var names []string
				for _, en := range entries {
					n := en.Name()
					if !en.IsDir() && (strings.HasSuffix(n, ".json") || strings.HasSuffix(n, ".test.yaml") || strings.HasSuffix(n, ".test.yml")) {
						names = append(names, filepath.Join(a, n))
					}
				}
				sort.Strings(names)
				files = append(files, names...)
			}
			pass, fail := 0, 0
			report := func(name, diff string, err error) {
				switch {
				case err != nil:
					fail++
					fmt.Fprintf(e.stdout, "FAIL %s: %v\n", name, err)
				case diff != "":
					fail++
					fmt.Fprintf(e.stdout, "FAIL %s: %s\n", name, diff)
				default:
					pass++
					if verbose {
						fmt.Fprintf(e.stdout, "ok   %s\n", name)
					}
				}
			}
			for _, f := range files {
				src, err := os.ReadFile(f)
				if err != nil {
					return &exitError{code: exitUsage, err: err}
				}
				if strings.HasSuffix(f, ".json") {
					v, ok, err := testrun.ParseVector(src)
					if err != nil {
						report(f, "", fmt.Errorf("not a vector: %w", err))
						continue
					}
					if ok {
						_, diff, err := testrun.RunVector(f, v)
						report(f, diff, err)
						continue
					}
					if !strings.Contains(string(src), `"cases"`) {
						continue // an index file, not a test
					}
				}
				suite, fs := testrun.ParseSuite(f, src)
				if fs.Errors() > 0 {
					for _, x := range fs {
						fmt.Fprint(e.stderr, x.Render(src))
					}
					fail++
					continue
				}
				wpath := suite.Workflow
				if !filepath.IsAbs(wpath) {
					wpath = filepath.Join(filepath.Dir(f), wpath)
				}
				ws, m, wfs, err := load(wpath)
				if err != nil || m == nil {
					if err == nil {
						for _, x := range wfs {
							fmt.Fprint(e.stderr, x.Render(ws.src))
						}
						err = fmt.Errorf("workflow %s is invalid", wpath)
					}
					report(f, "", err)
					continue
				}
				for _, c := range suite.Cases {
					diff, err := testrun.RunCase(m, c)
					report(fmt.Sprintf("%s:%d: %s", f, c.Pos.Line, c.Name), diff, err)
				}
			}
			fmt.Fprintf(e.stdout, "%d passed, %d failed\n", pass, fail)
			if fail > 0 {
				return findings()
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "print passing tests too")
	return cmd
}

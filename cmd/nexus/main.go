// Command nexus is the one command line of nexus: it validates, draws,
// migrates, tests, checks, simulates and runs workflows.
//
// Exit codes are a contract other tools rely on: 0 success, 1 findings
// (an invalid workflow, a failed test, a violated invariant), 2 usage or
// I/O errors.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"
)

// Exit codes.
const (
	exitOK       = 0
	exitFindings = 1
	exitUsage    = 2
)

// exitError carries an exit code up to main. A nil err means the message
// has been printed already.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit %d", e.code)
	}
	return e.err.Error()
}

// findings ends a command with exit code 1, the message already printed.
func findings() error { return &exitError{code: exitFindings} }

// usageError ends a command with exit code 2.
func usageError(format string, args ...any) error {
	return &exitError{code: exitUsage, err: fmt.Errorf(format, args...)}
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit code; tests
// call it directly.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRoot(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "nexus:", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors (unknown flag, wrong argument count) are usage
	// errors.
	fmt.Fprintln(stderr, "nexus:", err)
	return exitUsage
}

// env is what every command may use: the standard streams.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
}

func newRoot(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	e := &env{stdin: stdin, stdout: stdout, stderr: stderr}
	root := &cobra.Command{
		Use:   "nexus",
		Short: "A workflow engine for serverless functions that proves a workflow before it runs it",
		Long: `nexus compiles a declarative workflow (nexus YAML, or an AWS Step Functions
ASL definition) into a state machine, checks it, simulates it, and runs it.

Every command that takes a workflow file also takes a Step Functions ASL
JSON file directly; it is recognised by its content.

Exit codes: 0 success, 1 findings (invalid workflow, failed test,
violated invariant), 2 usage or I/O error.`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(
		e.validateCmd(),
		e.testCmd(),
		e.graphCmd(),
		e.migrateCmd(),
		e.checkCmd(),
		e.tlaCmd(),
		e.simCmd(),
		e.runCmd(),
		e.resumeCmd(),
		e.historyCmd(),
		e.traceCmd(),
		e.logCmd(),
		e.completeCmd(),
		e.cancelCmd(),
		e.serveCmd(),
		e.deployCmd(),
		e.tokenCmd(),
	)
	return root
}

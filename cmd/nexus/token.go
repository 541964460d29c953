package main

import (
	"fmt"
	"text/tabwriter"

	"github.com/nexus-workflows/nexus/server"
	"github.com/spf13/cobra"
)

func (e *env) tokenCmd() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "token",
		Short: "Create, list and revoke the API tokens of nexus serve",
		Long: `API tokens authenticate calls to nexus serve (Authorization: Bearer TOKEN).
A token belongs to one namespace: it sees and changes that namespace's
workflows and executions only. Only a token's SHA-256 is stored; the token
is printed once, when it is created. These commands work on the database
directly (--db), so that the first token can be made before any server
runs.`,
	}
	cmd.AddCommand(e.tokenCreateCmd(), e.tokenListCmd(), e.tokenRevokeCmd())
	return cmd
}

func (e *env) tokenCreateCmd() *cobra.Command {
	f := &dbFlags{}
	var ns, name, format string
	cmd := &cobra.Command{
		Use:   "create --namespace NS",
		Short: "Create a token for a namespace and print it (once)",
		Example: `  nexus token create --namespace team-a --name ci
  export NEXUS_TOKEN=$(nexus token create --namespace team-a)`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "json" {
				return usageError("-o must be text or json")
			}
			if ns == "" {
				return usageError("--namespace: which namespace is the token for?")
			}
			meta, err := server.OpenMeta(cmd.Context(), f.location())
			if err != nil {
				return usageError("%v", err)
			}
			defer meta.Close()
			tok, t, err := meta.CreateToken(cmd.Context(), ns, name)
			if err != nil {
				return usageError("%v", err)
			}
			if format == "json" {
				return writeJSON(e.stdout, map[string]any{"token": tok, "id": t.ID, "namespace": t.Namespace, "name": t.Name})
			}
			fmt.Fprintln(e.stdout, tok)
			fmt.Fprintf(e.stderr, "token %s for namespace %s; it is shown only now (nexus token revoke %s revokes it)\n", t.ID, t.Namespace, t.ID)
			return nil
		},
	}
	cmd.Flags().StringVar(&ns, "namespace", "", "namespace of the token (lowercase letters, digits, '-')")
	cmd.Flags().StringVar(&name, "name", "", "what the token is for (shown by nexus token list)")
	cmd.Flags().StringVarP(&format, "output", "o", "text", "text (the token alone on stdout) or json")
	f.register(cmd, false)
	return cmd
}

func (e *env) tokenListCmd() *cobra.Command {
	f := &dbFlags{}
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the tokens (ids, namespaces, names; never the tokens)",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			meta, err := server.OpenMeta(cmd.Context(), f.location())
			if err != nil {
				return usageError("%v", err)
			}
			defer meta.Close()
			ts, err := meta.Tokens(cmd.Context())
			if err != nil {
				return usageError("%v", err)
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAMESPACE\tNAME\tCREATED\tREVOKED")
			for _, t := range ts {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%v\n", t.ID, t.Namespace, t.Name, t.Created.Format("2006-01-02T15:04:05Z"), t.Revoked)
			}
			return tw.Flush()
		},
	}
	f.register(cmd, false)
	return cmd
}

func (e *env) tokenRevokeCmd() *cobra.Command {
	f := &dbFlags{}
	cmd := &cobra.Command{
		Use:   "revoke ID",
		Short: "Revoke a token (servers stop accepting it within seconds)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			meta, err := server.OpenMeta(cmd.Context(), f.location())
			if err != nil {
				return usageError("%v", err)
			}
			defer meta.Close()
			if err := meta.RevokeToken(cmd.Context(), args[0]); err != nil {
				return &exitError{code: exitFindings, err: err}
			}
			fmt.Fprintf(e.stderr, "token %s revoked\n", args[0])
			return nil
		},
	}
	f.register(cmd, false)
	return cmd
}

// location is the database of the token commands: the PostgreSQL URL or
// the SQLite file.
func (f *dbFlags) location() string {
	if u := f.postgresURL(); u != "" {
		return u
	}
	return f.path()
}

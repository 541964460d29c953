// Package ui is the web UI of nexus serve: static pages embedded in the
// binary (nothing is fetched from elsewhere) that call the server's JSON
// API (connect over HTTP, /nexus.v1.NexusService/METHOD) with the user's
// bearer token.
//
// The pages: the workflows with their latest version and verdict; a
// workflow version with its graph (drawn by the server with package graph,
// GetWorkflowGraph), its verdict per invariant, and each counterexample
// drawn on the graph; the executions, filtered by workflow, status and
// start time; an execution with its timeline (GetTrace: every call's
// input, output, error, attempt and timing), its path on the graph and its
// log.
//
// The token is pasted once and kept in the browser's localStorage, or
// given in the address as /ui/#token=TOKEN (the fragment never reaches a
// server). The handler itself serves only the static files: every piece
// of data comes through the API and its authentication.
package ui

import (
	"embed"
	"io/fs"
	"net/http"
	"strings"
)

//go:embed assets
var assets embed.FS

// Path is where the UI is served.
const Path = "/ui/"

// csp keeps the pages to their own files: scripts, styles and calls from
// this origin only, no inline script, no framing.
const csp = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"

// Handler serves the UI at /ui/ and redirects / there; any other path is
// not found. Mount it at "/" of the server's mux (the API's routes, being
// longer, take precedence).
func Handler() http.Handler {
	sub, err := fs.Sub(assets, "assets")
	if err != nil {
		panic(err) // the embedded tree is fixed at build time
	}
	files := http.StripPrefix(Path, http.FileServerFS(sub))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		switch {
		case r.URL.Path == "/" || r.URL.Path == "/ui":
			http.Redirect(w, r, Path, http.StatusFound)
			return
		case !strings.HasPrefix(r.URL.Path, Path):
			http.NotFound(w, r)
			return
		}
		h := w.Header()
		h.Set("Content-Security-Policy", csp)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		// The files change with the binary: revalidate each time.
		h.Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}

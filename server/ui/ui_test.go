package ui

import (
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func get(t *testing.T, h http.Handler, method, path string) *http.Response {
	t.Helper()
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	req, err := http.NewRequest(method, srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { resp.Body.Close() })
	return resp
}

// TestHandler: / and /ui redirect to /ui/; the page and its files are
// served with their types and a content security policy that keeps them
// to this origin; nothing else is found, and only GET and HEAD are
// allowed.
func TestHandler(t *testing.T) {
	h := Handler()
	for _, p := range []string{"/", "/ui"} {
		resp := get(t, h, "GET", p)
		if resp.StatusCode != http.StatusFound || resp.Header.Get("Location") != "/ui/" {
			t.Errorf("GET %s: %d to %q, want 302 to /ui/", p, resp.StatusCode, resp.Header.Get("Location"))
		}
	}
	for path, ctype := range map[string]string{"/ui/": "text/html", "/ui/app.js": "text/javascript", "/ui/app.css": "text/css"} {
		resp := get(t, h, "GET", path)
		body, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), ctype) || len(body) == 0 {
			t.Errorf("GET %s: %d %q (%d bytes), want 200 %s", path, resp.StatusCode, resp.Header.Get("Content-Type"), len(body), ctype)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
		if resp.Header.Get("X-Content-Type-Options") != "nosniff" || resp.Header.Get("Cache-Control") != "no-cache" {
			t.Errorf("GET %s: headers %v", path, resp.Header)
		}
	}
	if resp := get(t, h, "HEAD", "/ui/app.js"); resp.StatusCode != http.StatusOK {
		t.Errorf("HEAD /ui/app.js: %d", resp.StatusCode)
	}
	for _, p := range []string{"/nope", "/ui/nope.js", "/uix", "/nexus.v1.NexusService/Nope"} {
		if resp := get(t, h, "GET", p); resp.StatusCode != http.StatusNotFound {
			t.Errorf("GET %s: %d, want 404", p, resp.StatusCode)
		}
	}
	resp := get(t, h, "POST", "/ui/")
	if resp.StatusCode != http.StatusMethodNotAllowed || resp.Header.Get("Allow") != "GET, HEAD" {
		t.Errorf("POST /ui/: %d, Allow %q; want 405", resp.StatusCode, resp.Header.Get("Allow"))
	}
}

// TestNothingFromElsewhere: the page loads its own files only (no CDN,
// no font or script from another origin), and every file it names is
// embedded.
func TestNothingFromElsewhere(t *testing.T) {
	err := fs.WalkDir(assets, "assets", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := assets.ReadFile(path)
		if err != nil {
			return err
		}
		for _, bad := range []string{"http://", "https://", "@import", "url(//"} {
			if strings.Contains(string(b), bad) {
				t.Errorf("%s contains %q: the UI must load nothing from elsewhere", path, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	index, err := assets.ReadFile("assets/index.html")
	if err != nil {
		t.Fatal(err)
	}
	refs := regexp.MustCompile(`(?:src|href)="([^"]*)"`).FindAllStringSubmatch(string(index), -1)
	if len(refs) < 2 {
		t.Fatalf("index.html names %d files", len(refs))
	}
	for _, m := range refs {
		ref := m[1]
		switch {
		case strings.HasPrefix(ref, "#"), strings.HasPrefix(ref, "data:"):
		case strings.Contains(ref, ":") || strings.HasPrefix(ref, "/"):
			t.Errorf("index.html names %q: only files of the UI", ref)
		default:
			if _, err := fs.Stat(assets, "assets/"+ref); err != nil {
				t.Errorf("index.html names %q, which is not embedded", ref)
			}
		}
	}
}

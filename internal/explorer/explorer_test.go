package explorer_test

import (
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/explorer"
)

// TestAssetsAreSelfContained: the page loads nothing from another origin,
// has no inline script or style (the CSP would block it), and the script
// never parses data as markup.
func TestAssetsAreSelfContained(t *testing.T) {
	names := map[string]bool{}
	require.NoError(t, fs.WalkDir(explorer.Files(), ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		names[p] = true
		b, err := fs.ReadFile(explorer.Files(), p)
		require.NoError(t, err)
		s := string(b)
		assert.NotRegexp(t, regexp.MustCompile(`(?i)(src|href)\s*=\s*["']?(https?:)?//`), s, "%s loads from another origin", p)
		assert.NotRegexp(t, regexp.MustCompile(`(?i)@import|url\(\s*["']?https?:`), s, "%s imports from another origin", p)
		if strings.HasSuffix(p, ".html") {
			assert.NotRegexp(t, regexp.MustCompile(`(?i)<script>|<script(\s+type="[^"]*")?>|<style|\sstyle=|\son[a-z]+=`), s, "%s has inline script or style", p)
		}
		if strings.HasSuffix(p, ".js") {
			for _, sink := range []string{"innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "setTimeout(\"", "createContextualFragment"} {
				assert.NotContains(t, s, sink, "%s uses %s", p, sink)
			}
		}
		return nil
	}))
	assert.Equal(t, map[string]bool{"index.html": true, "explorer.js": true, "explorer.css": true}, names)
}

func TestHandler(t *testing.T) {
	h := explorer.Handler()
	get := func(method, p string) *httptest.ResponseRecorder {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(method, p, nil))
		return rec
	}
	for _, tc := range []struct {
		path, ctype, body string
	}{
		{"/", "text/html", `<script src="explorer.js" defer></script>`},
		{"/explorer.js", "javascript", "createElementNS"},
		{"/explorer.css", "text/css", ".edge.refusal"},
	} {
		rec := get(http.MethodGet, tc.path)
		require.Equal(t, http.StatusOK, rec.Code, tc.path)
		assert.Contains(t, rec.Header().Get("Content-Type"), tc.ctype, tc.path)
		assert.Contains(t, rec.Body.String(), tc.body, tc.path)
		assert.Equal(t, explorer.ContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"), tc.path)
		assert.Equal(t, "DENY", rec.Header().Get("X-Frame-Options"))
		assert.Equal(t, "no-referrer", rec.Header().Get("Referrer-Policy"))
	}
	assert.Contains(t, explorer.ContentSecurityPolicy, "default-src 'self'")
	assert.NotContains(t, explorer.ContentSecurityPolicy, "unsafe-inline")
	assert.NotContains(t, explorer.ContentSecurityPolicy, "unsafe-eval")

	assert.Equal(t, http.StatusNotFound, get(http.MethodGet, "/missing.js").Code)
	assert.Equal(t, http.StatusNotFound, get(http.MethodGet, "/assets/").Code, "no directory listing")
	assert.NotEqual(t, http.StatusOK, get(http.MethodGet, "/../explorer.go").Code)
	rec := get(http.MethodPost, "/")
	assert.Equal(t, http.StatusMethodNotAllowed, rec.Code)
	assert.Equal(t, explorer.ContentSecurityPolicy, rec.Header().Get("Content-Security-Policy"), "error answers carry the policy too")
}

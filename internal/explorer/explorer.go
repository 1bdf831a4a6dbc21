package explorer

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed assets
var assets embed.FS

// ContentSecurityPolicy is the policy of every file Handler serves: only
// this origin's script, style and API; no inline script or style, no
// plugins, no framing, no <base> rewriting.
const ContentSecurityPolicy = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Files returns the embedded assets (index.html, explorer.js,
// explorer.css) rooted at their directory.
func Files() fs.FS {
	sub, err := fs.Sub(assets, "assets")
	if err != nil { // a constant directory of the embed: cannot fail
		panic("explorer: " + err.Error())
	}
	return sub
}

// Handler serves the assets, the request path relative to the mount point
// ("/" is index.html), with the Content-Security-Policy and headers that
// keep browsers from sniffing types, sending referrers or framing the page.
// Only GET and HEAD are answered (405 otherwise); a directory other than
// the root is not listed (404).
func Handler() http.Handler {
	files := http.FileServerFS(Files())
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", ContentSecurityPolicy)
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Referrer-Policy", "no-referrer")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Cache-Control", "no-cache")
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			h.Set("Allow", "GET, HEAD")
			http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
			return
		}
		if r.URL.Path == "" {
			http.Redirect(w, r, "./", http.StatusMovedPermanently)
			return
		}
		if r.URL.Path != "/" && r.URL.Path[len(r.URL.Path)-1] == '/' {
			http.NotFound(w, r) // no directory listings
			return
		}
		files.ServeHTTP(w, r)
	})
}

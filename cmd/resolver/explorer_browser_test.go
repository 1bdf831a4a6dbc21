package main

import (
	"context"
	"encoding/json"
	"fmt"
	"image/png"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/gen"
)

// splitOutcome is the part of POST /v1/persons/split's answer the test
// reads.
type splitOutcome struct {
	Status string   `json:"status"`
	New    string   `json:"new_person_id"`
	Moved  []string `json:"distinct_ids_moved"`
}

// clickThrough opens page (user-1's person) in headless Chromium driven
// over the DevTools protocol and uses the buttons: it ticks the id pick,
// clicks Split, checks the confirmation dialog lists it (as text), cancels
// (nothing is written), splits for real, then deletes user-1's person with
// its ids blocked. It returns the split's outcome as the page showed it.
// A screenshot of the open dialog is saved to dialogShot.
func clickThrough(t *testing.T, bin, page, pick, base, token, dialogShot string) splitOutcome {
	t.Helper()
	actx, cancelAlloc := chromedp.NewExecAllocator(t.Context(), chromedp.ExecPath(bin), chromedp.Headless, chromedp.NoSandbox,
		chromedp.DisableGPU, chromedp.NoFirstRun, chromedp.NoDefaultBrowserCheck, chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1400, 1500), chromedp.Flag("disable-dev-shm-usage", true))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	require.NoError(t, chromedp.Do(bctx, chromedp.Navigate(page)), "start chromium and open the explorer")
	ctx, cancel := context.WithTimeout(bctx, 90*time.Second)
	defer cancel()
	step := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		require.NoError(t, chromedp.Do(ctx, actions...), what)
	}
	waitState := chromedp.Poll[chromedp.Void](`document.body.dataset.state === 'done'`)
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
		require.NoError(t, err, sel)
		return s
	}
	pickJS, err := json.Marshal(pick)
	require.NoError(t, err)
	tick := chromedp.Evaluate[chromedp.Void](`[...document.querySelectorAll('#ids-table input.split-pick')].find((b) => b.value === ` + string(pickJS) + `).click()`)
	idCount := func() int {
		code, body := mustGet(t, base+"/v1/persons?team=1&distinct_id=user-1", token)
		require.Equal(t, http.StatusOK, code, "%s", body)
		var v struct {
			IDs []json.RawMessage `json:"distinct_ids"`
		}
		require.NoError(t, json.Unmarshal(body, &v))
		return len(v.IDs)
	}

	step("the page searched", waitState)
	step("tick the hostile id and ask for a split", tick, chromedp.Click(chromedp.CSS("#split-button")), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	assert.Contains(t, text("#confirm-ids"), pick, "the dialog lists the id to move, as text")
	assert.Contains(t, text("#confirm-title"), "Split person")
	png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(dialogShot, png, 0o644))
	step("cancel", chromedp.Click(chromedp.CSS("#confirm-cancel")), chromedp.WaitNotVisible(chromedp.CSS("#confirm")))
	time.Sleep(500 * time.Millisecond)
	assert.Equal(t, 3, idCount(), "a cancelled split writes nothing")

	step("split for real", chromedp.Click(chromedp.CSS("#split-button")), chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.Poll[chromedp.Void](`document.getElementById('status').textContent.startsWith('Split:') && document.body.dataset.state === 'done'`))
	var out splitOutcome
	require.NoError(t, json.Unmarshal([]byte(text("#outcome")), &out), "the outcome shown")
	assert.Equal(t, 2, idCount(), "the split moved one id out")
	n, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('#ids-table tr.id-row').length`))
	require.NoError(t, err)
	assert.Equal(t, 2, n, "the page searched again and shows the person without it")

	step("delete, blocking the ids", chromedp.Click(chromedp.CSS("#delete-button")), chromedp.WaitVisible(chromedp.CSS("#confirm")),
		chromedp.Click(chromedp.CSS("#confirm-check")), chromedp.Click(chromedp.CSS("#confirm-ok")),
		chromedp.Poll[chromedp.Void](`document.getElementById('status').textContent.startsWith('Deleted person')`))
	assert.Contains(t, text("#outcome"), `"blocked": true`)
	code, _ := mustGet(t, base+"/v1/persons?team=1&distinct_id=user-1", token)
	assert.Equal(t, http.StatusNotFound, code, "user-1's person is deleted")
	return out
}

// The browser test's settings, read when the package initialises: TestMain
// unsets every RESOLVER_* variable before the tests run.
var (
	uiScreenshotEnv = os.Getenv("RESOLVER_UI_SCREENSHOT") // where to save the explorer's screenshot
	uiChromiumEnv   = os.Getenv("RESOLVER_TEST_CHROMIUM") // the Chromium binary, if not /usr/bin/chromium
)

// chromiumPath is Debian's chromium (apt-get install -y chromium; .ci/run
// installs it), or RESOLVER_TEST_CHROMIUM.
func chromiumPath(t *testing.T) string {
	t.Helper()
	p := uiChromiumEnv
	if p == "" {
		p = "/usr/bin/chromium"
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("the explorer's browser test needs headless Chromium at %s (Debian: apt-get install -y chromium; .ci/run installs it; or set RESOLVER_TEST_CHROMIUM): %v", p, err)
	}
	return p
}

// chromium runs headless Chromium on url with extra flags (--dump-dom,
// --screenshot=…) and returns its stdout. The virtual-time budget lets the
// page's fetches finish before the DOM is dumped or the picture taken.
func chromium(t *testing.T, bin, url string, extra ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 90*time.Second)
	defer cancel()
	args := append([]string{
		"--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
		"--disable-extensions", "--disable-background-networking", "--hide-scrollbars",
		"--user-data-dir=" + t.TempDir(), "--virtual-time-budget=20000", "--window-size=1400,1500",
	}, extra...)
	cmd := exec.CommandContext(ctx, bin, append(args, url)...)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	require.NoError(t, cmd.Run(), "chromium %v:\n%s", extra, tail(stderr.String(), 20))
	return stdout.String()
}

// TestExplorerInChromium: a real resolver (binary, embedded broker, admin
// token) takes an identify, an alias to a hostile id and a refused merge;
// headless Chromium opens /ui/ with the search in the URL and the token in
// the fragment; the DOM it renders shows the person's ids (the hostile one
// as text, never as markup), a merge edge labelled with its rule and time,
// and the refusal as a dashed edge. A screenshot is saved to
// RESOLVER_UI_SCREENSHOT (default: a temp dir). Then, clicking through the
// page (chromedp): a split cancelled in its confirmation dialog writes
// nothing; confirmed, it goes through POST /v1/persons/split — the command
// path of `resolver persons split` — and shows in the graph; a deletion
// confirmed with --block's checkbox deletes the person. The billing page
// shows the month; a wrong token shows an error and no data.
func TestExplorerInChromium(t *testing.T) {
	bin := chromiumPath(t)
	c := newCluster(t, "explorer", 240*time.Second)
	const token = "ui-s3cret"
	adminPort := freePort(t)
	inst := c.start("i0", append(c.instanceEnv(c.instanceDir(0)),
		"RESOLVER_ADMIN_TOKEN="+token, fmt.Sprintf("RESOLVER_ADMIN_ADDR=127.0.0.1:%d", adminPort)), "run")
	c.waitReady(inst)
	base := fmt.Sprintf("http://127.0.0.1:%d", adminPort)

	const hostile = `<img src=x onerror="document.title='pwned'">`
	props := func(m map[string]any) string {
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	script := []gen.Record{
		lifecycleEvent("anon-1", "$pageview", props(map[string]any{"$set": map[string]any{"email": "ann@example.com", "note": "</script><b>bold?</b>"}}), 1),
		lifecycleEvent("user-1", "$identify", props(map[string]any{"$anon_distinct_id": "anon-1", "$set": map[string]any{"name": "Ann"}}), 2),
		lifecycleEvent("user-1", "$create_alias", props(map[string]any{"alias": hostile}), 3),
		lifecycleEvent("user-2", "$identify", props(map[string]any{"$anon_distinct_id": "anon-2"}), 4),
		// user-2's person is identified: a guarded merge of it is refused.
		lifecycleEvent("user-1", "$identify", props(map[string]any{"$anon_distinct_id": "user-2"}), 5),
	}
	col := c.collect()
	c.produce(script)
	c.waitAll(col, script, 60*time.Second)

	// The static page is public; the data is not.
	code, _ := mustGet(t, base+"/ui/", "")
	require.Equal(t, http.StatusOK, code)
	code, _ = mustGet(t, base+"/v1/persons?team=1&distinct_id=user-1", "")
	require.Equal(t, http.StatusUnauthorized, code)

	page := base + "/ui/?" + url.Values{"team": {"1"}, "distinct_id": {"user-1"}}.Encode() + "#token=" + token
	dom := chromium(t, bin, page, "--dump-dom")
	require.Contains(t, dom, `data-state="done"`, "the page finished its search:\n%s", clipDOM(dom))
	for _, id := range []string{"anon-1", "user-1", "user-2"} {
		assert.Contains(t, dom, ">"+id+"<", "the DOM shows %s", id)
	}
	assert.Contains(t, dom, "&lt;img src=x onerror=\"document.title='pwned'\"&gt;", "the hostile id is shown as text")
	assert.NotRegexp(t, regexp.MustCompile(`(?i)<img`), dom, "no markup from data reaches the DOM")
	assert.NotRegexp(t, regexp.MustCompile(`(?i)<b>bold`), dom, "property values are text")
	assert.Contains(t, dom, "&lt;/script&gt;&lt;b&gt;bold?&lt;/b&gt;", "the hostile property value is shown as text")
	assert.NotContains(t, dom, "<title>pwned", "no script from data ran")
	assert.Contains(t, dom, "ann@example.com")

	merge := regexp.MustCompile(`<g class="edge merge" data-rule="identify"><path [^>]*></path><text [^>]*>identify · 2026-12-01T09:00:02`)
	assert.Regexp(t, merge, dom, "an identify edge labelled with its rule and event time")
	assert.Regexp(t, regexp.MustCompile(`<g class="edge merge" data-rule="alias">`), dom, "the alias edge")
	refusal := regexp.MustCompile(`<g class="edge refusal" data-rule="identify"><path [^>]*stroke-dasharray="6 4"[^>]*></path><text [^>]*>refused cannot_merge_already_identified · 2026-12-01T09:00:05`)
	assert.Regexp(t, refusal, dom, "the refused merge is a dashed edge labelled with its warning and time")
	assert.Regexp(t, regexp.MustCompile(`<g class="node self" data-id="user-1">`), dom)

	shot := uiScreenshotEnv
	if shot == "" {
		shot = filepath.Join(t.TempDir(), "explorer.png")
	}
	chromium(t, bin, page, "--screenshot="+shot)
	f, err := os.Open(shot)
	require.NoError(t, err, "the screenshot")
	img, err := png.Decode(f)
	f.Close()
	require.NoError(t, err, "the screenshot is a PNG")
	assert.Equal(t, 1400, img.Bounds().Dx())
	t.Logf("explorer screenshot: %s", shot)

	// The buttons, clicked in a real browser over the DevTools protocol:
	// split the hostile alias out (cancelled once, then confirmed), then
	// delete user-1's person.
	dialogShot := strings.TrimSuffix(shot, ".png") + "-split-dialog.png"
	split := clickThrough(t, bin, page, hostile, base, token, dialogShot)
	t.Logf("split dialog screenshot: %s", dialogShot)
	assert.Equal(t, "split", split.Status)
	assert.Equal(t, []string{hostile}, split.Moved)

	page = base + "/ui/?" + url.Values{"team": {"1"}, "distinct_id": {hostile}}.Encode() + "#token=" + token
	dom = chromium(t, bin, page, "--dump-dom")
	require.Contains(t, dom, `data-state="done"`, clipDOM(dom))
	assert.Regexp(t, regexp.MustCompile(`<g class="edge merge" data-rule="split">`), dom, "the split is an edge of the moved id's lineage")
	assert.Contains(t, dom, ">new person "+split.New[:12]+"…<", "to its new person")

	dom = chromium(t, bin, base+"/ui/?view=billing&team=1&month=2026-12#token="+token, "--dump-dom")
	require.Contains(t, dom, `data-state="done"`, clipDOM(dom))
	assert.Regexp(t, regexp.MustCompile(`<tr class="cost"><td>1</td><td>2026-12</td><td>(anonymous|identified)</td><td class="num">[0-9]+</td>`), dom,
		"the billing page shows team 1's events of the month")
	assert.Regexp(t, regexp.MustCompile(`<tr class="total"><td>1</td><td>2026-12</td><td>total</td>`), dom)

	dom = chromium(t, bin, base+"/ui/?team=1&distinct_id=user-1#token=wrong", "--dump-dom")
	assert.Contains(t, dom, `data-state="error"`)
	assert.Contains(t, dom, "the admin token is missing or wrong", "a wrong token is said, and no data is shown")
	assert.NotContains(t, dom, "ann@example.com")
}

// clipDOM is the start of a dumped DOM, for a failure message.
func clipDOM(dom string) string {
	if len(dom) > 4000 {
		return dom[:4000] + "…"
	}
	return dom
}

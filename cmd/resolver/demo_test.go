package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestDemo runs `resolver demo` as a newcomer would and checks that its
// story came out: the merged persons, the refusal, the dead letters and the
// billing rows.
func TestDemo(t *testing.T) {
	bin := resolverBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "demo", "--log-level", "warn")
	cmd.Env = append(os.Environ(), "RESOLVER_STATE_DIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "resolver demo:\n%s", out)
	s := string(out)

	ana := unionfind.ImplicitPersonID("phc_demo", "anon-ana-laptop").String()
	bob := unionfind.ImplicitPersonID("phc_demo", "anon-family-laptop").String()
	carol := unionfind.ImplicitPersonID("phc_demo", "carol").String()
	for _, want := range []string{
		"PERSONS", ana, bob, carol,
		"ana (v1), anon-ana-laptop (v0), anon-ana-phone (v1), crm-000193 (v1)",
		"anon-family-laptop (v0), bob (v1)",
		"cannot_merge_already_identified          distinct_id=carol",
		"cannot_merge_with_illegal_distinct_id    distinct_id=dave",
		"missing_team", "invalid_json",
	} {
		assert.Contains(t, s, want)
	}
	// Issue 16: one word per meaning. Persons are identified or anonymous;
	// an event without person processing is personless, in the events and
	// in the bill alike, and the bill's class names are said once.
	persons, _, _ := strings.Cut(s, "MERGES")
	assert.Contains(t, persons, "identified, created")
	assert.Contains(t, persons, "anonymous, created", "dave: a person, not identified")
	assert.NotContains(t, persons, "personless, created")
	assert.Regexp(t, `\$pageview\s+anon-visitor-1\s+\S+\s+personless\s+yes`, s)
	assert.Regexp(t, `\$identify\s+dave\s+\S+\s+anonymous\s+yes`, s)
	assert.Regexp(t, `\$feature_flag_called\s+anon-visitor-2\s+\S+\s+personless\s+no \(excluded event\)`, s)
	_, bill, ok := strings.Cut(s, "\nBILL (real counts")
	require.True(t, ok, s)
	assert.Contains(t, bill, "with a person here: identified 7 + anonymous 1.")
	assert.Regexp(t, regexp.MustCompile(`phc_demo\s+2026-11\s+personless\s+7\b`), bill)
	assert.Regexp(t, regexp.MustCompile(`phc_demo\s+2026-11\s+with a person\s+8\b`), bill)
	assert.Regexp(t, regexp.MustCompile(`phc_demo\s+2026-11\s+excluded\s+1\b`), bill)
	assert.Regexp(t, regexp.MustCompile(`phc_demo\s+2026-11\s+total\s+15\s+0\.00\b`), bill)
	realBill, scale, _ := strings.Cut(bill, "THE MONTH AT SCALE")
	assert.NotRegexp(t, `\n\s+(identified|anonymous)\s+\d`, realBill, "the bill says personless and with a person, not the class names")

	// The month at scale: said to be simulated, the story's mix (8 of 15
	// with a person) scaled to 10,000,000 events, and not free.
	assert.Contains(t, scale, "(SIMULATED, not measured: the story's mix, 8 of 15 billed events with a person,")
	assert.Regexp(t, `with a person\s+5,333,333\s+594\.666632`, scale)
	assert.Regexp(t, `personless\s+4,666,667\s+141\.4666781`, scale)
	assert.Regexp(t, `total\s+10,000,000\s+736\.1333101`, scale)
	assert.Regexp(t, `1,000,000 - 2,000,000\s+0\.000248\s+248\.00`, scale, "a tier past the free one")

	// What next: kcat against the embedded broker of `resolver run`, the
	// explorer, bench.
	_, next, ok := strings.Cut(s, "WHAT NEXT")
	require.True(t, ok, s)
	assert.Contains(t, next, "resolver run")
	assert.Contains(t, next, "kcat -P -b 127.0.0.1:9092 -t events_raw -k 'phc_demo:anon-1'")
	assert.Contains(t, next, "kcat -C -b 127.0.0.1:9092 -t events_person -X isolation.level=read_committed -e")
	assert.Contains(t, next, "http://127.0.0.1:9464/ui/")
	assert.Contains(t, next, "resolver bench")
	assert.False(t, strings.Contains(s, "panic"), s)
}

// TestDemoFlags: --month-events is bounded.
func TestDemoFlags(t *testing.T) {
	for _, n := range []string{"0", "-5", "1000000000001"} {
		var stdout, stderr bytes.Buffer
		code := execute(t.Context(), []string{"demo", "--month-events", n}, &stdout, &stderr)
		assert.Equal(t, exitConfig, code, n)
		assert.Contains(t, stderr.String(), "--month-events "+n, n)
	}
}

// TestDemoKind: the word of a stamped event.
func TestDemoKind(t *testing.T) {
	for _, tt := range []struct {
		mode       string
		identified bool
		want       string
	}{
		{"propertyless", false, "personless"},
		{"propertyless", true, "personless"},
		{"full", true, "identified"},
		{"full", false, "anonymous"},
		{"force_upgrade", true, "identified"},
		{"", false, "anonymous"},
	} {
		assert.Equal(t, tt.want, demoKind(tt.mode, tt.identified), "%+v", tt)
	}
	assert.Equal(t, "10,000,000", demoCount(10_000_000))
	assert.Equal(t, "-1,000", demoCount(-1000))
	assert.Equal(t, "999", demoCount(999))
}

// TestDemoNext: the what-next block uses this configuration's broker,
// topic names (with topics.prefix) and admin address.
func TestDemoNext(t *testing.T) {
	cfg := defaultConfig()
	cfg.Kafka.Brokers = []string{"kafka-1:9092"}
	cfg.Topics.Prefix = "dev_"
	cfg.Admin.Addr = "0.0.0.0:9464"
	var b bytes.Buffer
	writeDemoNext(&b, cfg, cfg.streamConfig())
	s := b.String()
	assert.Contains(t, s, "Run the resolver with kafka.brokers")
	assert.Contains(t, s, "kcat -P -b kafka-1:9092 -t dev_events_raw -k 'phc_demo:anon-1'")
	assert.Contains(t, s, "kcat -C -b kafka-1:9092 -t dev_events_person -X isolation.level=read_committed -e")
	assert.Contains(t, s, "http://127.0.0.1:9464/ui/")

	cfg.Admin.Addr = ""
	b.Reset()
	writeDemoNext(&b, cfg, cfg.streamConfig())
	assert.Contains(t, b.String(), "set admin.addr: it is off")
}

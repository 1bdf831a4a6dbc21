package main

import (
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
	assert.Regexp(t, regexp.MustCompile(`phc_demo\s+2026-11\s+anonymous\s+7\b`), s)
	assert.Regexp(t, regexp.MustCompile(`phc_demo\s+2026-11\s+identified\s+8\b`), s)
	assert.Regexp(t, regexp.MustCompile(`phc_demo\s+2026-11\s+excluded\s+1\b`), s)
	assert.False(t, strings.Contains(s, "panic"), s)
}

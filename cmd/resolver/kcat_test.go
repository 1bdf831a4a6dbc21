package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// specNamespace is the namespace of implicit person ids in docs/SEMANTICS.md §3.
var specNamespace = uuid.MustParse("932979b4-65c3-4424-8467-0b66ec27bc22")

// specPersonID is UUIDv5(namespace, "<team>:<distinct_id>"), computed here
// from the spec rather than by the resolver's own code.
func specPersonID(team, did string) string {
	return uuid.NewSHA1(specNamespace, []byte(team+":"+did)).String()
}

// TestKcat: a Kafka client no one here wrote — kcat, on librdkafka —
// produces capture events into `resolver broker` and reads events_person
// back under read_committed; every person id is the UUIDv5 of the spec:
// the anonymous side's id for a login story, the id's own for the rest.
func TestKcat(t *testing.T) {
	kcat, err := exec.LookPath("kcat")
	if err != nil {
		t.Skip("kcat is not on PATH, so the real-client test cannot run here: install it with `apt-get install kcat` (CI does)")
	}
	// The spec's own examples, as a check of specPersonID.
	require.Equal(t, "246f7a43-5507-564f-b687-793ee3c2dd79", specPersonID("1", "test"))
	require.Equal(t, "00ce873a-549c-548e-bbec-cc804a385dd8", specPersonID("2", "test"))

	c := newCluster(t, "kcat", 90*time.Second)
	inst := c.startInstance("instance", c.instanceDir(0))
	c.waitReady(inst)

	ts := func(s int) string { return time.Date(2026, 11, 20, 12, 0, s, 0, time.UTC).Format(time.RFC3339) }
	type ev struct {
		key, value string
		person     string // expected person_id
	}
	var evs []ev
	add := func(team, token, did, event, props string, s int, person string) {
		u := uuid.NewString()
		teamField := `"team_id":` + team
		if token != "" {
			teamField = `"token":"` + token + `"`
		}
		evs = append(evs, ev{
			key:    token + ":" + did,
			value:  fmt.Sprintf(`{"uuid":%q,"event":%q,"distinct_id":%q,%s,"timestamp":%q,"properties":%s}`, u, event, did, teamField, ts(s), props),
			person: person,
		})
	}
	// Team 7: anonymous browsing, then a login; all of it is anon-7's person.
	anon := specPersonID("7", "kcat-anon")
	add("7", "", "kcat-anon", "$pageview", `{"$process_person_profile":false}`, 0, anon)
	add("7", "", "kcat-anon", "$pageview", `{"$current_url":"https://example.com/pricing"}`, 1, anon)
	add("7", "", "kcat-user", "$identify", `{"$anon_distinct_id":"kcat-anon","$set":{"email":"k@example.com"}}`, 2, anon)
	add("7", "", "kcat-user", "button_clicked", `{}`, 3, anon)
	// Team 8: an unrelated user, and the same distinct_id as team 7's user:
	// teams never share.
	add("8", "", "kcat-user", "$pageview", `{}`, 4, specPersonID("8", "kcat-user"))
	add("8", "", "someone", "$pageview", `{"$process_person_profile":false}`, 5, specPersonID("8", "someone"))

	var in strings.Builder
	for _, e := range evs {
		fmt.Fprintf(&in, "%s\t%s\n", e.key, e.value)
	}
	ctx, cancel := context.WithTimeout(c.ctx, 30*time.Second)
	defer cancel()
	prod := exec.CommandContext(ctx, kcat, "-P", "-b", c.addr, "-t", "events_raw", "-K", "\t")
	prod.Stdin = strings.NewReader(in.String())
	out, err := prod.CombinedOutput()
	require.NoError(t, err, "kcat -P: %s", out)

	cons := exec.CommandContext(ctx, kcat, "-C", "-b", c.addr, "-t", "events_person", "-o", "beginning",
		"-X", "isolation.level=read_committed", "-c", fmt.Sprint(len(evs)), "-f", "%s\n", "-q")
	var stderr syncBuffer
	cons.Stderr = &stderr
	got, err := cons.Output()
	require.NoError(t, err, "kcat -C: %s", stderr.String())

	byUUID := map[string]string{}
	for _, line := range readLines(string(got)) {
		var s struct {
			UUID     string `json:"uuid"`
			PersonID string `json:"person_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(line), &s), "events_person value read by kcat: %s", line)
		byUUID[s.UUID] = s.PersonID
	}
	require.Len(t, byUUID, len(evs))
	for _, e := range evs {
		var v struct {
			UUID       string `json:"uuid"`
			DistinctID string `json:"distinct_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(e.value), &v))
		assert.Equal(t, e.person, byUUID[v.UUID], "person of %s (%s)", v.DistinctID, e.value)
	}
	assert.Equal(t, anon, unionfind.ImplicitPersonID("7", "kcat-anon").String(), "the resolver's UUIDv5 is the spec's")
	inst.stop(t, 40*time.Second)
}

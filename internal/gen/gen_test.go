package gen

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// collect runs g to the end.
func collect(t testing.TB, g *Generator) []Record {
	t.Helper()
	recs := make([]Record, 0, g.Total())
	for {
		r, ok := g.Next()
		if !ok {
			return recs
		}
		recs = append(recs, r)
	}
}

func digest(recs []Record) [32]byte {
	h := sha256.New()
	for _, r := range recs {
		fmt.Fprintf(h, "%d:%s|%d:%s|%s|%s\n", len(r.Key), r.Key, len(r.Value), r.Value, r.Kind, r.Time.Format(time.RFC3339Nano))
	}
	var d [32]byte
	h.Sum(d[:0])
	return d
}

// rich turns the rare cases up so that small streams contain all of them.
var rich = Config{
	Seed: 42, Users: 600, PadBytes: 500,
	MalformedRate: 0.02, IllegalIDRate: 0.01, SharedDeviceRate: 0.05, CrossDeviceShare: 0.3,
}

func TestDeterministic(t *testing.T) {
	a := digest(collect(t, New(rich)))
	b := digest(collect(t, New(rich)))
	assert.Equal(t, a, b, "the same config must give byte-identical records")

	other := rich
	other.Seed++
	assert.NotEqual(t, a, digest(collect(t, New(other))), "another seed must give another stream")

	// WriteJSONLines writes exactly the values Next yields.
	var buf bytes.Buffer
	n, err := WriteJSONLines(&buf, New(rich))
	require.NoError(t, err)
	var want bytes.Buffer
	for _, r := range collect(t, New(rich)) {
		want.Write(r.Value)
		want.WriteByte('\n')
	}
	assert.Equal(t, New(rich).Total(), n)
	assert.Equal(t, sha256.Sum256(want.Bytes()), sha256.Sum256(buf.Bytes()))
}

func TestTotal(t *testing.T) {
	for _, c := range []Config{
		{},
		rich,
		{Seed: 3, Users: 1, SessionsPerUser: 1, EventsPerSession: 1},
		{Seed: 4, Users: 2, Teams: 5, EventsPerSession: 2},
		{Seed: 5, Users: 500, Concurrency: 7, EventsPerSession: 3, SessionsPerUser: 6},
		{Seed: 6, Users: 50, IdentifyShare: 1, SharedDeviceRate: 1, CrossDeviceShare: 1, ResetOnLogout: Off},
		{Seed: 7, Users: 50, MalformedRate: 1},
	} {
		t.Run(fmt.Sprintf("%+v", c), func(t *testing.T) {
			g := New(c)
			total := g.Total()
			assert.Len(t, collect(t, g), total)
			assert.Equal(t, total, g.Emitted())
			_, more := g.Next()
			assert.False(t, more)
			n, err := WriteJSONLines(&bytes.Buffer{}, New(c))
			require.NoError(t, err)
			assert.Equal(t, total, n)
		})
	}
}

// ref is what the normalisation of docs/SEMANTICS.md §1 takes from a record,
// reimplemented here with encoding/json.
type ref struct {
	team, did, uuid, event string
	time                   time.Time
	props                  map[string]any
	top                    map[string]any // the event (the envelope's data, unwrapped)
	keyToken               string
}

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)

func parseObject(b []byte) (map[string]any, bool) {
	d := json.NewDecoder(bytes.NewReader(b))
	d.UseNumber()
	var v any
	if d.Decode(&v) != nil || d.More() {
		return nil, false
	}
	m, ok := v.(map[string]any)
	return m, ok
}

func idString(v any) (string, bool) {
	switch x := v.(type) {
	case string:
		return x, strings.TrimSpace(x) != ""
	case json.Number:
		return x.String(), true
	}
	return "", false
}

// normalise applies docs/SEMANTICS.md §1 to a value: the fields, or the reason
// the record is dead-lettered.
func normalise(value []byte) (ref, string) {
	var r ref
	m, ok := parseObject(value)
	if !ok {
		return r, ReasonInvalidJSON
	}
	ev := m
	if data, isEnv := m["data"].(string); isEnv {
		if ev, ok = parseObject([]byte(data)); !ok {
			return r, ReasonInvalidJSON
		}
		for k, v := range m {
			if k != "data" && v != nil {
				ev[k] = v
			}
		}
	}
	r.top = ev
	r.props, _ = ev["properties"].(map[string]any)
	teamFrom := []any{ev["team_id"], ev["token"], ev["api_key"], ev["$token"], r.props["token"]}
	if _, isEnv := m["data"].(string); isEnv {
		teamFrom = []any{m["token"]} // an envelope's team is its own token (changed 2026-12-04)
	}
	for _, v := range teamFrom {
		if s, ok := idString(v); ok {
			r.team = s
			break
		}
	}
	for _, v := range []any{ev["token"], ev["api_key"], ev["$token"], r.props["token"]} {
		if s, ok := idString(v); ok {
			r.keyToken = s
			break
		}
	}
	if r.team == "" {
		return r, ReasonMissingTeam
	}
	did, present := ev["distinct_id"]
	if !present {
		did, present = ev["$distinct_id"]
	}
	if !present {
		did = r.props["distinct_id"]
	}
	if r.did, ok = idString(did); !ok {
		return r, ReasonInvalidDistinctID
	}
	if u, present := ev["uuid"]; present {
		s, _ := u.(string)
		if !uuidRE.MatchString(s) {
			return r, ReasonInvalidUUID
		}
		r.uuid = s
	}
	if r.event, _ = ev["event"].(string); r.event == "" {
		return r, ReasonInvalidEventName
	}
	ts := func(k string) time.Time {
		s, _ := ev[k].(string)
		t, _ := time.Parse(time.RFC3339Nano, s)
		return t
	}
	r.time = ts("timestamp")
	if _, ok := ev["sent_at"]; ok {
		if _, ok := ev["now"]; ok {
			r.time = ts("now").Add(ts("timestamp").Sub(ts("sent_at")))
		}
	}
	return r, ""
}

func TestRecordsAsTheResolverSeesThem(t *testing.T) {
	recs := collect(t, New(rich))
	kinds := map[string]int{}
	for i, r := range recs {
		kinds[r.Kind]++
		f, reason := normalise(r.Value)
		require.Equal(t, r.Reason, reason, "record %d: %s", i, r.Value)
		if reason != "" {
			assert.Equal(t, KindMalformed, r.Kind)
			continue
		}
		require.NotEqual(t, KindMalformed, r.Kind)
		assert.Equal(t, r.Team, f.team, "team of %s", r.Value)
		assert.Equal(t, r.DistinctID, f.did, "distinct_id of %s", r.Value)
		assert.Equal(t, r.UUID, f.uuid, "uuid of %s", r.Value)
		assert.Equal(t, r.Event, f.event)
		assert.Equal(t, string(r.Key), f.keyToken+":"+f.did, "key of %s", r.Value)
		assert.True(t, r.Time.Equal(f.time), "time %v, value says %v: %s", r.Time, f.time, r.Value)
		assert.Equal(t, r.Personless, f.props["$process_person_profile"] == false, "personless flag of %s", r.Value)
		_, isEnv := f.top["now"]
		assert.Equal(t, r.Envelope, isEnv)

		anon, hasAnon := f.props["$anon_distinct_id"].(string)
		switch r.Kind {
		case KindIdentify, KindSharedDevice:
			assert.Equal(t, "$identify", r.Event)
			assert.True(t, hasAnon && anon != "" && anon != r.DistinctID, "$anon_distinct_id of %s", r.Value)
			set, _ := f.props["$set"].(map[string]any)
			if set == nil {
				set, _ = f.top["$set"].(map[string]any)
			}
			assert.Contains(t, set, "email")
			assert.False(t, r.Personless)
		case KindAlias:
			assert.Equal(t, "$create_alias", r.Event)
			assert.NotEmpty(t, f.props["alias"])
		default:
			assert.False(t, hasAnon)
			assert.NotContains(t, []string{"$identify", "$create_alias", "$merge_dangerously"}, r.Event)
		}
		assert.Equal(t, r.Kind == KindExcluded, IsExcluded(r.Event))
		if r.Kind == KindIllegalID {
			assert.Contains(t, illegalIDs, r.DistinctID)
		}
		if usesTeamID(teamIndex(t, r.Team)) {
			assert.Contains(t, f.top, "team_id")
		}
	}
	for _, k := range Kinds {
		assert.Positive(t, kinds[k], "no record of kind %s", k)
	}
}

func teamIndex(t *testing.T, name string) int {
	for i := 1; i < 100; i++ {
		if TeamName(i) == name {
			return i
		}
	}
	t.Fatalf("unknown team %q", name)
	return 0
}

func TestRates(t *testing.T) {
	c := Config{Seed: 9, Users: 4000, PersonlessShare: 0.4, MalformedRate: 0.01, IllegalIDRate: 0.005, ExcludedShare: 0.05, EnvelopeShare: 0.25}
	recs := collect(t, New(c))
	s := Summarize(recs)
	n := float64(s.Records)
	near := func(name string, got, want float64) {
		t.Helper()
		sd := math.Sqrt(want * (1 - want) / n)
		assert.InDelta(t, want, got, 5*sd+0.002, "%s", name)
	}
	near("malformed", float64(s.DeadLetters)/n, c.MalformedRate)
	near("illegal ids", float64(s.ByKind[KindIllegalID])/n, c.IllegalIDRate)
	tokenTeams := 0 // records of the teams that send a token, the only ones with envelopes
	for _, r := range recs {
		if r.Reason == "" && !usesTeamID(teamIndex(t, r.Team)) {
			tokenTeams++
		}
	}
	near("envelope", float64(s.Envelopes)/float64(tokenTeams), c.EnvelopeShare)
	near("excluded", float64(s.ByKind[KindExcluded])/n, c.ExcludedShare)
	for _, reason := range []string{ReasonInvalidJSON, ReasonMissingTeam, ReasonInvalidDistinctID, ReasonInvalidUUID, ReasonInvalidEventName} {
		assert.Positive(t, s.ByReason[reason], reason)
	}
	assert.Equal(t, s.ByKind[KindMalformed], s.DeadLetters)

	// Personless is decided per device, so its share of anonymous events is
	// noisier than a per-record rate.
	anonymous, personless := 0, 0
	for _, r := range recs {
		if r.Reason != "" || r.Kind == KindIllegalID || !uuidRE.MatchString(r.DistinctID) {
			continue // dead letters, illegal ids, and people logged in
		}
		anonymous++
		if r.Personless {
			personless++
		}
	}
	assert.InDelta(t, c.PersonlessShare, float64(personless)/float64(anonymous), 0.04)

	// Logins: a share of sessions (plus the second devices' first sessions).
	sessions := float64(c.Users * DefaultSessionsPerUser)
	assert.InDelta(t, DefaultIdentifyShare, float64(s.ByKind[KindIdentify])/sessions, 0.05)
}

func TestNoneMeansZero(t *testing.T) {
	c := Config{Seed: 1, Users: 300, PersonlessShare: None, MalformedRate: None, IllegalIDRate: None,
		ExcludedShare: None, EnvelopeShare: None, SharedDeviceRate: None, CrossDeviceShare: None, IdentifyShare: None}
	s := Summarize(collect(t, New(c)))
	assert.Zero(t, s.DeadLetters)
	assert.Zero(t, s.Personless)
	assert.Zero(t, s.Envelopes)
	assert.Zero(t, s.Excluded)
	for _, k := range []string{KindIllegalID, KindSharedDevice, KindAlias, KindIdentify} {
		assert.Zero(t, s.ByKind[k], k)
	}
}

func TestTimeOrder(t *testing.T) {
	recs := collect(t, New(rich))
	require.True(t, recs[0].Time.Equal(DefaultStart), "the first record is at Start")
	lastByUser := map[int]time.Time{}
	lastByKey := map[string]time.Time{}
	switches := 0
	for i, r := range recs {
		if i > 0 {
			assert.False(t, r.Time.Before(recs[i-1].Time), "record %d goes back in time", i)
			if r.User != recs[i-1].User {
				switches++
			}
		}
		assert.False(t, r.Time.Before(lastByUser[r.User]))
		assert.False(t, r.Time.Before(lastByKey[string(r.Key)]))
		lastByUser[r.User], lastByKey[string(r.Key)] = r.Time, r.Time
	}
	assert.Greater(t, switches, len(recs)/2, "people interleave")
	assert.Len(t, lastByUser, rich.Users)
}

func TestUUIDs(t *testing.T) {
	seen := map[string]bool{}
	for _, r := range collect(t, New(rich)) {
		if r.UUID == "" {
			assert.Equal(t, KindMalformed, r.Kind)
			continue
		}
		require.False(t, seen[r.UUID], "duplicate uuid %s", r.UUID)
		seen[r.UUID] = true
		assert.Equal(t, byte('7'), r.UUID[14], "version 7")
		assert.Contains(t, "89ab", r.UUID[19:20], "RFC 4122 variant")
		hexMs := strings.ReplaceAll(r.UUID[:13], "-", "")
		assert.Equal(t, fmt.Sprintf("%012x", r.Time.UnixMilli()), hexMs, "the uuid holds the event time")
	}
}

// TestIdentityFlow checks the story the identity events tell: logins join
// the anonymous id a person browsed with, a reset gives a fresh one, a
// second device joins the same person, and a shared-device login reuses an
// anonymous id someone else already identified.
func TestIdentityFlow(t *testing.T) {
	recs := collect(t, New(rich))
	usedBy := map[string]int{}          // distinct_id → user whose timeline used it first
	identifiedAs := map[string]string{} // anonymous id → the id it was first identified as
	loginIDs := map[int]map[string]bool{}
	devices := map[int]map[string]bool{}
	logins, browsed := 0, 0
	for _, r := range recs {
		if r.Kind == KindIllegalID || r.DistinctID == "" {
			continue
		}
		f, _ := normalise(r.Value)
		switch r.Kind {
		case KindIdentify:
			anon := f.props["$anon_distinct_id"].(string)
			logins++
			if u, ok := usedBy[anon]; ok {
				// (Not always: the first slot may have been an illegal id.)
				browsed++
				assert.Equal(t, r.User, u, "a login joins an id its person browsed with")
			}
			_, again := identifiedAs[anon]
			assert.False(t, again, "with reset on logout, an anonymous id logs in once")
			identifiedAs[anon] = r.DistinctID
			if loginIDs[r.User] == nil {
				loginIDs[r.User], devices[r.User] = map[string]bool{}, map[string]bool{}
			}
			loginIDs[r.User][r.DistinctID] = true
			devices[r.User][f.props["$device_id"].(string)] = true
		case KindSharedDevice:
			anon := f.props["$anon_distinct_id"].(string)
			first, ok := identifiedAs[anon]
			assert.True(t, ok, "a shared-device login reuses an identified anonymous id")
			assert.NotEqual(t, first, r.DistinctID, "as someone else")
		}
		if _, ok := usedBy[r.DistinctID]; !ok {
			usedBy[r.DistinctID] = r.User
		}
	}
	assert.Greater(t, browsed, logins*9/10)
	crossDevice := 0
	for u, ids := range loginIDs {
		assert.Len(t, ids, 1, "user %d logs in with one id", u)
		if len(devices[u]) > 1 {
			crossDevice++
		}
	}
	assert.Positive(t, crossDevice)
}

func TestResetOnLogout(t *testing.T) {
	anonAfterLogin := func(reset Toggle) int {
		c := Config{Seed: 2, Users: 300, ResetOnLogout: reset, CrossDeviceShare: None, SharedDeviceRate: None, IllegalIDRate: None, MalformedRate: None}
		loggedIn := map[int]bool{}
		n := 0
		for _, r := range collect(t, New(c)) {
			if r.Kind == KindIdentify {
				loggedIn[r.User] = true
			} else if loggedIn[r.User] && uuidRE.MatchString(r.DistinctID) {
				n++
			}
		}
		return n
	}
	assert.Positive(t, anonAfterLogin(Default), "after a logout people browse anonymously again")
	assert.Zero(t, anonAfterLogin(Off), "without reset a device stays logged in")
}

func TestPadding(t *testing.T) {
	for _, pad := range []int{0, 300, 2000} {
		c := rich
		c.Users, c.PadBytes = 200, pad
		padded, want := 0, 0
		for _, r := range collect(t, New(c)) {
			if r.Reason != "" {
				continue
			}
			want++
			has := bytes.Contains(r.Value, []byte(`"pad":"`)) || bytes.Contains(r.Value, []byte(`\"pad\":\"`))
			switch {
			case pad == 0:
				require.False(t, has)
			case has:
				padded++
				require.Len(t, r.Value, pad, "%s", r.Value)
			default:
				require.GreaterOrEqual(t, len(r.Value), pad-len(`,\"pad\":\"\"`), "%s", r.Value)
			}
		}
		if pad == 2000 {
			assert.Equal(t, want, padded, "every record is shorter than 2000 bytes")
		}
	}
	// Padded records are well formed: TestRecordsAsTheResolverSeesThem
	// decodes a padded stream.
	require.Positive(t, rich.PadBytes)
}

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		field string
		c     Config
	}{
		{"Teams", Config{Teams: -1}},
		{"Users", Config{Users: -5}},
		{"SessionsPerUser", Config{SessionsPerUser: -1}},
		{"EventsPerSession", Config{EventsPerSession: -1}},
		{"Concurrency", Config{Concurrency: -1}},
		{"PadBytes", Config{PadBytes: -1}},
		{"PadBytes", Config{PadBytes: MaxPadBytes + 1}},
		{"PersonlessShare", Config{PersonlessShare: 1.5}},
		{"MalformedRate", Config{MalformedRate: math.NaN()}},
		{"ResetOnLogout", Config{ResetOnLogout: 7}},
		{"Start", Config{Start: time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)}},
		{"Users", Config{Users: 1 << 40}},
	} {
		err := tc.c.Validate()
		require.Error(t, err, tc.field)
		assert.True(t, errors.Is(err, ErrInvalidConfig))
		assert.Contains(t, err.Error(), tc.field)
		assert.Panics(t, func() { New(tc.c) })
	}
	assert.NoError(t, Config{}.Validate())
	assert.NoError(t, DefaultConfig().Validate())
	assert.NoError(t, rich.Validate())
}

func TestDefaults(t *testing.T) {
	d := DefaultConfig()
	assert.Equal(t, DefaultPadBytes, d.PadBytes)
	assert.Equal(t, On, d.ResetOnLogout)
	assert.Equal(t, DefaultStart, d.Start)
	g := New(Config{})
	c := g.Config()
	assert.Equal(t, 0, c.PadBytes, "zero PadBytes means no padding")
	assert.Equal(t, DefaultUsers, c.Users)
	assert.Equal(t, DefaultPersonlessShare, c.PersonlessShare)
	assert.Equal(t, DefaultConcurrency, c.Concurrency)
	assert.Equal(t, 40_000, New(Config{Users: 1_000_000, SessionsPerUser: 1, EventsPerSession: 1}).Config().Concurrency)
	assert.Equal(t, 10, New(Config{Users: 10}).Config().Concurrency)
	assert.Equal(t, "phc_team1", TeamName(1))
	assert.Equal(t, "2", TeamName(2))
	assert.Equal(t, "phc_team2", TeamToken(2))
}

func TestWriteJSONLinesLines(t *testing.T) {
	var buf bytes.Buffer
	n, err := WriteJSONLines(&buf, New(rich))
	require.NoError(t, err)
	sc := bufio.NewScanner(&buf)
	sc.Buffer(nil, 1<<20)
	lines := 0
	for sc.Scan() {
		lines++
	}
	assert.Equal(t, n, lines, "one record per line: no value contains a newline")
}

type failWriter struct{}

func (failWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteJSONLinesError(t *testing.T) {
	_, err := WriteJSONLines(failWriter{}, New(rich))
	assert.ErrorContains(t, err, "disk full")
}

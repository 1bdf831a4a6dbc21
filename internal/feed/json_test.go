package feed

import (
	"encoding/json"
	"math"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// marshalPerson is what the pipeline produced before the appenders: the
// reference each appender is held to.
func marshalPerson(t testing.TB, r *unionfind.PersonRow) ([]byte, error) {
	t.Helper()
	return json.Marshal(FromPerson(r))
}

func checkPerson(t testing.TB, r *unionfind.PersonRow) {
	t.Helper()
	want, werr := marshalPerson(t, r)
	got, gerr := AppendPerson([]byte("prefix"), r)
	if werr != nil {
		if gerr == nil {
			t.Fatalf("json.Marshal failed (%v), AppendPerson wrote %s", werr, got)
		}
		return
	}
	if gerr != nil {
		t.Fatalf("AppendPerson: %v; json.Marshal wrote %s", gerr, want)
	}
	if string(got) != "prefix"+string(want) {
		t.Fatalf("AppendPerson wrote\n%s\njson.Marshal\n%s", got[len("prefix"):], want)
	}
	row := FromPerson(r)
	if k := AppendPersonKey([]byte("p"), r); string(k) != "p"+row.Team+":"+row.ID {
		t.Fatalf("AppendPersonKey wrote %q", k[1:])
	}
}

func checkDistinctID(t testing.TB, r *unionfind.DistinctIDRow) {
	t.Helper()
	want, err := json.Marshal(FromDistinctID(r))
	if err != nil {
		t.Fatal(err)
	}
	if got := AppendDistinctID([]byte("p"), r); string(got) != "p"+string(want) {
		t.Fatalf("AppendDistinctID wrote\n%s\njson.Marshal\n%s", got[1:], want)
	}
	row := FromDistinctID(r)
	if k := AppendDistinctIDKey([]byte("p"), r); string(k) != "p"+row.Team+":"+row.DistinctID {
		t.Fatalf("AppendDistinctIDKey wrote %q", k[1:])
	}
}

func checkMerge(t testing.TB, r *unionfind.MergeRow) {
	t.Helper()
	rows := FromMerge(r)
	if len(rows) != MergeParts(r) {
		t.Fatalf("MergeParts %d, FromMerge made %d rows", MergeParts(r), len(rows))
	}
	for i := range rows {
		want, err := json.Marshal(rows[i])
		if err != nil {
			t.Fatal(err)
		}
		if got := AppendMerge([]byte("p"), r, i+1); string(got) != "p"+string(want) {
			t.Fatalf("AppendMerge part %d wrote\n%s\njson.Marshal\n%s", i+1, got[1:], want)
		}
		if k := AppendMergeKey([]byte("p"), r); string(k) != "p"+rows[i].Team+":"+rows[i].SurvivorPersonID {
			t.Fatalf("AppendMergeKey wrote %q", k[1:])
		}
	}
}

func TestAppendRowsMatchMarshal(t *testing.T) {
	id := unionfind.ImplicitPersonID("1", "test")
	odd := []string{"", "plain", `<script>&"quote"\back`, "line\u2028sep\u2029", "tab\tnl\n\b\f\x00\x1f", "bad\xffutf8\xc3", "ünïcødé 日本", "del\x7f"}
	times := []int64{0, 1764324000123, -1, -62167219200000, -62167219200001, 253402300799999, 253402300800000, math.MinInt64, math.MaxInt64}
	values := []string{`"a@b.c"`, `1`, `-0.5e+3`, `true`, `null`, `[1, 2 ,3]`, "{\"a\" :\n\t{\"b\": [ ]}}", `"<b>&amp;</b>"`, "\"\u2028\"", `"\u2028 escaped"`, `"spa ce"`, `{}`, `"é"`,
		`["a\"b", 1]`, `["x\\", 2]`, `"\\"`, `["x\\"]`, `{"k":"v"}`, `[["a b"],{"c":" "}]`}

	for _, s := range odd {
		for _, ms := range times {
			props := make([]unionfind.Property, 0, len(values))
			for i, v := range values {
				props = append(props, unionfind.Property{Key: s + strconv.Itoa(i), Value: json.RawMessage(v), Time: ms})
			}
			checkPerson(t, &unionfind.PersonRow{Team: s, Person: unionfind.Person{ID: id, CreatedAt: ms, Identified: true, Version: math.MaxUint64, Props: props}})
			checkPerson(t, &unionfind.PersonRow{Team: s, Person: unionfind.Person{CreatedAt: ms, Deleted: true}})
			checkDistinctID(t, &unionfind.DistinctIDRow{Team: s, DistinctID: s + "id", PersonID: id, Version: 7, Deleted: ms < 0})
			checkMerge(t, &unionfind.MergeRow{Team: s, Survivor: id, Moved: []string{s, s + "2"}, Rule: unionfind.RuleAlias, Refused: s,
				Other: s, Into: s + "into", EventUUID: s, Timestamp: ms, Source: unionfind.Source{Topic: s, Partition: -3, Offset: math.MaxInt64},
				Log: unionfind.LogPos{Partition: math.MaxInt32, Offset: -1, Time: -ms}})
		}
	}
	// Each value alone: one that needs compacting would send the whole
	// object down the compacting path.
	for _, v := range values {
		checkPerson(t, &unionfind.PersonRow{Team: "t", Person: unionfind.Person{ID: id, Props: []unionfind.Property{{Key: "k", Value: json.RawMessage(v)}}}})
	}
	// Every part of a merge that moved more ids than a row carries, and
	// the edges of a part.
	for _, n := range []int{0, 1, MergeIDsPerRow - 1, MergeIDsPerRow, MergeIDsPerRow + 1, 3*MergeIDsPerRow + 7} {
		moved := make([]string, n)
		for i := range moved {
			moved[i] = "id" + strconv.Itoa(i)
		}
		checkMerge(t, &unionfind.MergeRow{Team: "t", Absorbed: id, Moved: moved, Rule: unionfind.RuleMergeDangerously})
	}
	checkMerge(t, &unionfind.MergeRow{Team: "t", Moved: nil})

	// Properties that are not JSON fail as json.Marshal fails, when they
	// reach the compacting path.
	_, err := AppendPerson(nil, &unionfind.PersonRow{Team: "t", Person: unionfind.Person{ID: id,
		Props: []unionfind.Property{{Key: "k", Value: json.RawMessage(`[1, `)}}}})
	require.Error(t, err)
	_, err = marshalPerson(t, &unionfind.PersonRow{Team: "t", Person: unionfind.Person{ID: id,
		Props: []unionfind.Property{{Key: "k", Value: json.RawMessage(`[1, `)}}}})
	require.Error(t, err)
}

// TestAppendRowsDecode reads an appended row back as its struct: the
// warehouse's side.
func TestAppendRowsDecode(t *testing.T) {
	id := unionfind.ImplicitPersonID("1", "test")
	b, err := AppendPerson(nil, &unionfind.PersonRow{Team: "1", Person: unionfind.Person{ID: id, CreatedAt: 1764324000123, Version: 3,
		Props: []unionfind.Property{{Key: "email", Value: json.RawMessage(`"a@b.c"`)}}}})
	require.NoError(t, err)
	var p PersonRow
	require.NoError(t, json.Unmarshal(b, &p))
	assert.Equal(t, PersonRow{Team: "1", ID: id.String(), CreatedAt: "2025-11-28T10:00:00.123Z", Properties: json.RawMessage(`{"email":"a@b.c"}`), Version: 3}, p)
}

// FuzzAppendRows holds the appenders to json.Marshal of the From… rows
// for any strings, times, numbers and (valid JSON) property values.
func FuzzAppendRows(f *testing.F) {
	f.Add("team", "id", "other", int64(1764324000123), uint64(3), "key", []byte(`"v"`), 2, false)
	f.Add("<&>", "\u2028", "\xff", int64(-1), uint64(0), "k\x00", []byte("[1, {\"a\" : \"<\"}]"), 201, true)
	f.Add("", "", "", int64(math.MaxInt64), uint64(math.MaxUint64), "", []byte(`"\u2028"`), 0, true)
	f.Fuzz(func(t *testing.T, team, did, other string, ms int64, version uint64, key string, value []byte, moved int, flag bool) {
		id := unionfind.ImplicitPersonID(team, did)
		props := []unionfind.Property{{Key: key, Value: json.RawMessage(value), Time: ms}}
		if !json.Valid(value) {
			props = nil // stored values are JSON (Apply validates them)
		}
		checkPerson(t, &unionfind.PersonRow{Team: team, Person: unionfind.Person{ID: id, CreatedAt: ms, Identified: flag, Deleted: !flag, Version: version, Props: props}})
		checkDistinctID(t, &unionfind.DistinctIDRow{Team: team, DistinctID: did, PersonID: id, Version: version, Deleted: flag})
		ids := make([]string, max(0, min(moved, 3*MergeIDsPerRow)))
		for i := range ids {
			ids[i] = did + strconv.Itoa(i)
		}
		var surv unionfind.PersonID
		if flag {
			surv = id
		}
		checkMerge(t, &unionfind.MergeRow{Team: team, Survivor: surv, Absorbed: id, Moved: ids, Rule: unionfind.Rule(version % 5), Refused: key,
			Other: other, Into: did, EventUUID: key, Timestamp: ms, Source: unionfind.Source{Topic: other, Partition: int32(version), Offset: ms},
			Log: unionfind.LogPos{Partition: int32(ms), Offset: int64(version), Time: -ms}})
	})
}

// BenchmarkFeedRows writes an identify's rows (the person, two
// distinct-id rows and the lineage row), as the pipeline did (json.Marshal
// of the From… rows) and does (the appenders, into a reused buffer):
// go test -bench FeedRows -count 6 ./internal/feed/ | benchstat -col /enc -
func BenchmarkFeedRows(b *testing.B) {
	team := "phc_3f6a1b2c"
	surv, abs := unionfind.ImplicitPersonID(team, "user-42@example.com"), unionfind.ImplicitPersonID(team, "0193a7c2-5d1e-7f00-8a1b-2c3d4e5f6a7b")
	person := unionfind.PersonRow{Team: team, Person: unionfind.Person{ID: surv, CreatedAt: 1764324000123, Identified: true, Version: 4, Props: []unionfind.Property{
		{Key: "$browser", Value: json.RawMessage(`"Chrome"`)}, {Key: "$os", Value: json.RawMessage(`"Mac OS X"`)},
		{Key: "email", Value: json.RawMessage(`"user-42@example.com"`)}, {Key: "plan", Value: json.RawMessage(`"pro"`)},
		{Key: "seats", Value: json.RawMessage(`12`)}, {Key: "signed_up", Value: json.RawMessage(`"2026-11-30T10:00:00Z"`)},
	}}}
	dids := []unionfind.DistinctIDRow{{Team: team, DistinctID: "user-42@example.com", PersonID: surv, Version: 1}, {Team: team, DistinctID: "0193a7c2-5d1e-7f00-8a1b-2c3d4e5f6a7b", PersonID: surv, Version: 2}}
	merge := unionfind.MergeRow{Team: team, Survivor: surv, Absorbed: abs, Moved: []string{"0193a7c2-5d1e-7f00-8a1b-2c3d4e5f6a7b"}, Rule: unionfind.RuleIdentify,
		Other: "0193a7c2-5d1e-7f00-8a1b-2c3d4e5f6a7b", Into: "user-42@example.com", EventUUID: "0193a7c2-6000-7000-8000-000000000001", Timestamp: 1764324000123,
		Source: unionfind.Source{Topic: "events_raw", Partition: 3, Offset: 123456}, Log: unionfind.LogPos{Partition: 1, Offset: 98765, Time: 1764324000200}}
	var sink int
	b.Run("enc=marshal", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			p := FromPerson(&person)
			v, _ := json.Marshal(p)
			k := []byte(p.Team + ":" + p.ID)
			sink += len(v) + len(k)
			for i := range dids {
				d := FromDistinctID(&dids[i])
				v, _ := json.Marshal(d)
				k := []byte(d.Team + ":" + d.DistinctID)
				sink += len(v) + len(k)
			}
			for _, m := range FromMerge(&merge) {
				v, _ := json.Marshal(m)
				k := []byte(m.Team + ":" + m.SurvivorPersonID)
				sink += len(v) + len(k)
			}
		}
	})
	b.Run("enc=append", func(b *testing.B) {
		b.ReportAllocs()
		buf := make([]byte, 0, 4096)
		for b.Loop() {
			buf = AppendPersonKey(buf[:0], &person)
			buf, _ = AppendPerson(buf, &person)
			for i := range dids {
				buf = AppendDistinctID(AppendDistinctIDKey(buf, &dids[i]), &dids[i])
			}
			for part := 1; part <= MergeParts(&merge); part++ {
				buf = AppendMerge(AppendMergeKey(buf, &merge), &merge, part)
			}
			sink += len(buf)
		}
	})
	_ = sink
}

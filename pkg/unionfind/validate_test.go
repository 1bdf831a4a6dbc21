package unionfind_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// countingStore counts every call an op makes on a Store.
type countingStore struct {
	unionfind.Store
	calls int
}

func (c *countingStore) Mapping(team, did string) (unionfind.Mapping, bool, error) {
	c.calls++
	return c.Store.Mapping(team, did)
}
func (c *countingStore) PutMapping(team, did string, m unionfind.Mapping) error {
	c.calls++
	return c.Store.PutMapping(team, did, m)
}
func (c *countingStore) Person(team string, id unionfind.PersonID) (unionfind.Person, bool, error) {
	c.calls++
	return c.Store.Person(team, id)
}
func (c *countingStore) PutPerson(team string, p unionfind.Person) error {
	c.calls++
	return c.Store.PutPerson(team, p)
}
func (c *countingStore) Members(team string, id unionfind.PersonID, fn func(string) error) error {
	c.calls++
	return c.Store.Members(team, id, fn)
}
func (c *countingStore) PutMember(team string, id unionfind.PersonID, did string) error {
	c.calls++
	return c.Store.PutMember(team, id, did)
}
func (c *countingStore) DeleteMember(team string, id unionfind.PersonID, did string) error {
	c.calls++
	return c.Store.DeleteMember(team, id, did)
}

func kvs(pairs ...string) []unionfind.KV {
	var out []unionfind.KV
	for i := 0; i < len(pairs); i += 2 {
		out = append(out, unionfind.KV{Key: pairs[i], Value: json.RawMessage(pairs[i+1])})
	}
	return out
}

// validOp is an op every rule accepts; each case of TestValidate breaks one
// thing about it.
func validOp() unionfind.Op {
	return unionfind.Op{
		Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: "events_raw", Partition: 1, Offset: 2},
		Team: "phc_abc", DistinctID: "user-1", EventUUID: "0190c1a2-0000-7000-8000-000000000001", Timestamp: 1000,
		Merge:   &unionfind.Merge{Other: "anon-1", Guarded: true},
		Set:     kvs("a", `1`, "c", `"x"`),
		SetOnce: kvs("", `{}`, "b", `[1,2]`),
		Unset:   []string{"z", "z"},
	}
}

func TestValidate(t *testing.T) {
	big := strings.Repeat("x", 70_000)
	tests := []struct {
		name   string
		change func(*unionfind.Op)
		want   string // "" = valid; else a part of the error
	}{
		{"valid", func(*unionfind.Op) {}, ""},
		{"200-byte team", func(o *unionfind.Op) { o.Team = strings.Repeat("t", 200) }, ""},
		{"200-character distinct_id of 4-byte runes", func(o *unionfind.Op) { o.DistinctID = strings.Repeat("😀", 200) }, ""},
		{"401-character other", func(o *unionfind.Op) { o.Merge.Other = strings.Repeat("é", 401) }, ""},
		{"empty other (illegal, refused by the merge rules, not here)", func(o *unionfind.Op) { o.Merge.Other = "" }, ""},
		{"other with NUL (illegal, not invalid)", func(o *unionfind.Op) { o.Merge.Other = "a\x00" }, ""},
		{"delete op needs no distinct_id", func(o *unionfind.Op) { *o = unionfind.Op{Kind: unionfind.OpDeletePerson, Team: "1"} }, ""},
		{"whitespace inside a team", func(o *unionfind.Op) { o.Team = " a b " }, ""},
		{"delete op by distinct_id", func(o *unionfind.Op) { *o = deleteOp("user:1") }, ""},
		{"delete op by a 200-character distinct_id", func(o *unionfind.Op) { *o = deleteOp(strings.Repeat("😀", 200)) }, ""},
		{"split op", func(o *unionfind.Op) { *o = splitOp("a", "b", "c") }, ""},
		{"split op naming only its first id (refused by the graph, not here)", func(o *unionfind.Op) { *o = splitOp("a") }, ""},
		{"split op naming an id twice (the graph drops repeats)", func(o *unionfind.Op) { *o = splitOp("a", "a") }, ""},
		{"split of 1000 ids", func(o *unionfind.Op) { *o = splitOp("a", manyIDs(1000)...) }, ""},
		{"sealed values are not JSON-checked", func(o *unionfind.Op) { o.KeyID = 7; o.Set = kvs("a", "\x00\xff", "c", ``) }, ""},
		{"opened values (KeyID 0, Sealed)", func(o *unionfind.Op) { o.Sealed, o.Gen = true, 3 }, ""},

		{"unknown kind", func(o *unionfind.Op) { o.Kind = 9 }, "unknown kind 9"},
		{"zero kind", func(o *unionfind.Op) { o.Kind = 0 }, "unknown kind 0"},
		{"empty team", func(o *unionfind.Op) { o.Team = "" }, "team is empty"},
		{"blank team", func(o *unionfind.Op) { o.Team = " \u00a0" }, "team is empty or whitespace only"},
		{"201-byte team", func(o *unionfind.Op) { o.Team = strings.Repeat("t", 201) }, "team is 201 bytes, over the limit of 200"},
		{"70 kB team", func(o *unionfind.Op) { o.Team = big }, "team is 70000 bytes"},
		{"team with NUL", func(o *unionfind.Op) { o.Team = "a\x00" }, "team holds a control character at byte 1"},
		{"team with DEL", func(o *unionfind.Op) { o.Team = "\x7f" }, "control character"},
		{"team with C1", func(o *unionfind.Op) { o.Team = "a\u0085" }, "control character"},
		{"team not UTF-8", func(o *unionfind.Op) { o.Team = "a\xc2" }, "team is not valid UTF-8"},
		{"delete op with a 70 kB team", func(o *unionfind.Op) { *o = unionfind.Op{Kind: unionfind.OpDeletePerson, Team: big} }, "team is 70000 bytes"},
		{"empty distinct_id", func(o *unionfind.Op) { o.DistinctID = "" }, "distinct_id is empty"},
		{"201-character distinct_id", func(o *unionfind.Op) { o.DistinctID = strings.Repeat("é", 201) }, "distinct_id of 402 bytes is over 200 characters"},
		{"70 kB distinct_id", func(o *unionfind.Op) { o.DistinctID = big }, "distinct_id of 70000 bytes"},
		{"distinct_id with NUL", func(o *unionfind.Op) { o.DistinctID = "a\x00" }, "distinct_id holds NUL"},
		{"distinct_id not UTF-8", func(o *unionfind.Op) { o.DistinctID = "\xff" }, "distinct_id is not valid UTF-8"},
		{"402-character other", func(o *unionfind.Op) { o.Merge.Other = strings.Repeat("a", 402) }, "merge other of 402 bytes, over 401 characters"},
		{"70 kB other", func(o *unionfind.Op) { o.Merge.Other = big }, "merge other of 70000 bytes"},
		{"70 kB source topic", func(o *unionfind.Op) { o.Source.Topic = big }, "source topic of 70000 bytes, over 249"},
		{"70 kB event uuid", func(o *unionfind.Op) { o.EventUUID = big }, "event uuid of 70000 bytes"},
		{"$set keys unsorted", func(o *unionfind.Op) { o.Set = kvs("b", `1`, "a", `1`) }, `$set keys not sorted and unique at "a"`},
		{"$set key repeated", func(o *unionfind.Op) { o.Set = kvs("a", `1`, "a", `2`) }, `$set keys not sorted and unique at "a"`},
		{"$set_once keys unsorted", func(o *unionfind.Op) { o.SetOnce = kvs("b", `1`, "", `1`) }, `$set_once keys not sorted`},
		{"a key in both", func(o *unionfind.Op) { o.SetOnce = kvs("c", `1`) }, `key "c" in both $set and $set_once`},
		{"key not UTF-8", func(o *unionfind.Op) { o.Set = kvs("\xff", `1`) }, "is not valid UTF-8"},
		{"value not JSON", func(o *unionfind.Op) { o.Set = kvs("a", `{`) }, `value of key "a" is not one JSON value`},
		{"two JSON values", func(o *unionfind.Op) { o.Set = kvs("a", `1 2`) }, "is not one JSON value"},
		{"empty value", func(o *unionfind.Op) { o.Set = kvs("a", ``) }, "is not one JSON value"},
		{"opened value not JSON", func(o *unionfind.Op) { o.Sealed = true; o.SetOnce = kvs("b", "\x00") }, `$set_once value of key "b" is not one JSON value`},
		{"sealed keys still checked", func(o *unionfind.Op) { o.KeyID = 7; o.Set = kvs("b", "x", "a", "x") }, `$set keys not sorted and unique at "a"`},
		{"sealed key in both", func(o *unionfind.Op) { o.KeyID = 7; o.SetOnce = kvs("c", "x") }, `key "c" in both`},
		{"delete op by a 201-character distinct_id", func(o *unionfind.Op) { *o = deleteOp(strings.Repeat("é", 201)) }, "distinct_id of 402 bytes is over 200 characters"},
		{"delete op by a 70 kB distinct_id", func(o *unionfind.Op) { *o = deleteOp(big) }, "distinct_id of 70000 bytes"},
		{"delete op by a distinct_id with NUL", func(o *unionfind.Op) { *o = deleteOp("a\x00") }, "distinct_id holds NUL"},
		{"split op with an empty first id", func(o *unionfind.Op) { *o = splitOp("", "b") }, "distinct_id is empty"},
		{"split op with a 70 kB first id", func(o *unionfind.Op) { *o = splitOp(big, "b") }, "distinct_id of 70000 bytes"},
		{"split op with a 70 kB split id", func(o *unionfind.Op) { *o = splitOp("a", "b", big) }, "split id 1 of 70000 bytes"},
		{"split op with an empty split id", func(o *unionfind.Op) { *o = splitOp("a", "b", "") }, "split id 1 is empty"},
		{"split op with a split id not UTF-8", func(o *unionfind.Op) { *o = splitOp("a", "\xff") }, "split id 0 is not valid UTF-8"},
		{"split of 1001 ids", func(o *unionfind.Op) { *o = splitOp("a", manyIDs(1001)...) }, "split of 1001 ids, over 1000"},
		{"split op with a bad team", func(o *unionfind.Op) { *o = splitOp("a", "b"); o.Team = "" }, "team is empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			op := validOp()
			tt.change(&op)
			err := op.Validate()
			if tt.want == "" {
				assert.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, unionfind.ErrInvalidOp)
			assert.Contains(t, err.Error(), tt.want)
			assert.Less(t, len(err.Error()), 400, "the error quotes nothing long: %s", err)

			// Apply refuses it without touching the store.
			mem := state.NewMemory()
			defer mem.Close()
			require.NoError(t, mem.Update(func(tx state.Tx) error {
				cs := &countingStore{Store: tx}
				res, err := (&unionfind.Graph{}).Apply(cs, &op)
				assert.ErrorIs(t, err, unionfind.ErrInvalidOp)
				assert.True(t, res.Empty())
				assert.Zero(t, cs.calls, "an invalid op reads and writes nothing")
				return nil
			}))
		})
	}
}

func deleteOp(did string) unionfind.Op {
	return unionfind.Op{Kind: unionfind.OpDeletePerson, Source: unionfind.Source{Topic: "identity_commands"}, Team: "1", DistinctID: did, Block: true}
}

func splitOp(first string, more ...string) unionfind.Op {
	return unionfind.Op{Kind: unionfind.OpSplit, Source: unionfind.Source{Topic: "identity_commands"}, Team: "1", DistinctID: first, SplitIDs: more}
}

func manyIDs(n int) []string {
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "id-" + strconv.Itoa(i)
	}
	return ids
}

// An op whose values are still sealed (KeyID != 0) is valid — producers
// check it before logging — but Apply refuses it, reading and writing
// nothing: values that were never opened must not reach a person.
func TestApplyRefusesSealedOp(t *testing.T) {
	op := validOp()
	op.KeyID, op.Sealed, op.Gen = 9, true, 1
	op.Set = kvs("a", "\x01\x02", "c", `"still JSON-looking, but ciphertext by the rule"`)
	require.NoError(t, op.Validate())
	mem := state.NewMemory()
	defer mem.Close()
	require.NoError(t, mem.Update(func(tx state.Tx) error {
		cs := &countingStore{Store: tx}
		res, err := (&unionfind.Graph{}).Apply(cs, &op)
		require.ErrorIs(t, err, unionfind.ErrInvalidOp)
		assert.Contains(t, err.Error(), "values still sealed under key id 9")
		assert.NotContains(t, err.Error(), "still JSON-looking", "the error names no value")
		assert.True(t, res.Empty())
		assert.Zero(t, cs.calls)

		// Opened (KeyID 0, Sealed kept): applied.
		op.KeyID = 0
		op.Set = kvs("a", `1`, "c", `"x"`)
		res, err = (&unionfind.Graph{}).Apply(tx, &op)
		require.NoError(t, err)
		assert.NotEmpty(t, res.Persons)
		return nil
	}))
}

func TestBoundOther(t *testing.T) {
	for _, tt := range []struct {
		in   string
		want int // runes kept
	}{
		{"", 0}, {"a", 1}, {strings.Repeat("a", 401), 401}, {strings.Repeat("a", 402), 401},
		{strings.Repeat("😀", 70_000), 401}, {strings.Repeat("\xff", 500), 401},
	} {
		got := unionfind.BoundOther(tt.in)
		assert.True(t, strings.HasPrefix(tt.in, got))
		assert.Equal(t, tt.want, len([]rune(got)))
		assert.Equal(t, unionfind.IsIllegal(tt.in), unionfind.IsIllegal(got), "legality kept for %d bytes", len(tt.in))
	}
}

// TestForgedOpsOnBadger pins issue 11, item 1: a forged identity_log op
// whose team, distinct_id or other is 70 kB became part of a Badger key,
// Badger refused it (keys are at most 65,000 bytes), the applier treated
// that as fatal and every replica stopped. Apply now refuses such ops with
// ErrInvalidOp before touching the store, on a real Badger store, and the
// state is unchanged; a normal op applies afterwards.
func TestForgedOpsOnBadger(t *testing.T) {
	st, err := state.Open(t.TempDir(), state.Options{CacheBytes: -1, MemTableBytes: 16 << 20, BlockCacheBytes: 8 << 20})
	require.NoError(t, err)
	defer st.Close()
	g := &unionfind.Graph{}
	big := strings.Repeat("T", 70_000)

	// Some state to keep.
	require.NoError(t, st.Update(func(tx state.Tx) error {
		for _, op := range []unionfind.Op{
			{Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", Timestamp: 1, Set: kvs("k", `1`)},
			{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 2, Merge: &unionfind.Merge{Other: "a", Guarded: true}},
		} {
			if _, err := g.Apply(tx, &op); err != nil {
				return err
			}
		}
		return nil
	}))
	before, err := st.Fingerprint()
	require.NoError(t, err)

	// The hazard is real: this store refuses such a key.
	err = st.Update(func(tx state.Tx) error {
		return tx.PutMapping(big, "d", unionfind.Mapping{PersonID: unionfind.ImplicitPersonID("1", "d")})
	})
	require.Error(t, err, "Badger accepted a 70 kB key; the test no longer shows the hazard")

	forged := map[string]unionfind.Op{
		"70 kB team":            {Kind: unionfind.OpEvent, Team: big, DistinctID: "k", Timestamp: 3, Set: kvs("x", `1`)},
		"70 kB distinct_id":     {Kind: unionfind.OpEvent, Team: "1", DistinctID: big, Timestamp: 3},
		"70 kB other":           {Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 3, Merge: &unionfind.Merge{Other: big}},
		"70 kB other, guarded":  {Kind: unionfind.OpEvent, Team: "1", DistinctID: "a", Timestamp: 3, Merge: &unionfind.Merge{Other: big, Guarded: true}, Set: kvs("k", `2`)},
		"70 kB team, delete":    {Kind: unionfind.OpDeletePerson, Team: big, PersonID: unionfind.ImplicitPersonID("1", "a")},
		"70 kB source topic":    {Kind: unionfind.OpEvent, Source: unionfind.Source{Topic: big}, Team: "1", DistinctID: "u", Timestamp: 3},
		"team with a newline":   {Kind: unionfind.OpEvent, Team: "1\n", DistinctID: "u", Timestamp: 3},
		"unsorted $set":         {Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 3, Set: kvs("z", `1`, "k", `3`)},
		"unknown kind":          {Kind: 7, Team: "1", DistinctID: "u"},
		"$set value not JSON":   {Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 3, Set: kvs("k", `nope`)},
		"distinct_id with NULs": {Kind: unionfind.OpEvent, Team: "1", DistinctID: "\x00\x00", Timestamp: 3},
	}
	for name, op := range forged {
		t.Run(name, func(t *testing.T) {
			err := st.Update(func(tx state.Tx) error {
				_, err := g.Apply(tx, &op)
				return err
			})
			require.ErrorIs(t, err, unionfind.ErrInvalidOp)
			after, ferr := st.Fingerprint()
			require.NoError(t, ferr)
			assert.Equal(t, before, after, "state changed")
		})
	}

	// The applier skips an invalid op inside a batch and goes on: the ops
	// around it apply, in one transaction.
	require.NoError(t, st.Update(func(tx state.Tx) error {
		for _, op := range []unionfind.Op{
			forged["70 kB team"],
			{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 4, Set: kvs("k", `5`)},
			forged["70 kB distinct_id"],
		} {
			if _, err := g.Apply(tx, &op); err != nil && !errors.Is(err, unionfind.ErrInvalidOp) {
				return err
			}
		}
		return nil
	}))
	p, explicit, err := st.Find("1", "a")
	require.NoError(t, err)
	require.True(t, explicit)
	v, ok := p.Prop("k")
	require.True(t, ok)
	assert.JSONEq(t, `5`, string(v.Value))
}

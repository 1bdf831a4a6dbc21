package state

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestRowStats writes known rows through Update (and one row under no tag
// through the engine) and checks RowStats against the lengths of the keys
// and values the codec makes for them, on every engine.
func TestRowStats(t *testing.T) {
	alice, bob := unionfind.PersonID{1}, unionfind.PersonID{2}
	p := unionfind.Person{ID: alice, CreatedAt: 1700000000000}
	mA := unionfind.Mapping{PersonID: alice, Version: 1}
	mB := unionfind.Mapping{PersonID: alice, Version: 2}
	want := map[string]RowKind{
		"d/": {Tag: "d/", Kind: "distinct_id mappings", Rows: 2,
			KeyBytes:   int64(len(mappingKey(nil, "team", "alice")) + len(mappingKey(nil, "team", "bob-7"))),
			ValueBytes: int64(len(appendMapping(nil, "team", "alice", mA)) + len(appendMapping(nil, "team", "bob-7", mB)))},
		"m/": {Tag: "m/", Kind: "person members", Rows: 2,
			KeyBytes: int64(len(memberKey(nil, "team", alice, "alice")) + len(memberKey(nil, "team", alice, "bob-7")))},
		"p/": {Tag: "p/", Kind: "persons", Rows: 1,
			KeyBytes: int64(len(personKey(nil, "team", alice))), ValueBytes: int64(len(encodePersonValue(&p, personMeta{})))},
		"a/": {Tag: "a/", Kind: "applied offsets", Rows: 1,
			KeyBytes: int64(len(appliedKey(nil, 3))), ValueBytes: int64(len(encodeI64(42)))},
		"?": {Tag: "?", Kind: "unknown", Rows: 1, KeyBytes: 3, ValueBytes: 5},
	}
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			s := ec.make(t)
			require.NoError(t, s.Update(func(tx Tx) error {
				for _, err := range []error{
					tx.PutMapping("team", "alice", mA), tx.PutMapping("team", "bob-7", mB),
					tx.PutMember("team", alice, "alice"), tx.PutMember("team", alice, "bob-7"),
					tx.PutPerson("team", p), tx.SetApplied(3, 42),
					// Written and deleted in the same Update: not a row.
					tx.PutMember("team", bob, "carol"), tx.DeleteMember("team", bob, "carol"),
				} {
					if err != nil {
						return err
					}
				}
				return nil
			}))
			require.NoError(t, s.Sync())
			require.NoError(t, s.eng.update(func(w kvWriter) error { return w.set([]byte("zz!"), []byte("hello")) }))
			got, err := s.RowStats()
			require.NoError(t, err)
			seen := map[string]RowKind{}
			for _, k := range got {
				seen[k.Tag] = k
			}
			if _, marked := seen["u/"]; marked { // sorted commits are on (badger-replay)
				require.Equal(t, RowKind{Tag: "u/", Kind: "unfinished-replay mark", Rows: 1, KeyBytes: 2, ValueBytes: 8}, seen["u/"])
				delete(seen, "u/")
			}
			require.Equal(t, want, seen)
			require.NoError(t, s.Close())
			_, err = s.RowStats()
			require.ErrorIs(t, err, ErrClosed)
		})
	}
}

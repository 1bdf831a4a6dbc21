package state

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// rawRows is every key and value of s but the sorted commits' mark.
func rawRows(t *testing.T, s *Store) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, s.eng.view(func(r kvReader) error {
		return r.scan(nil, nil, false, func(k, v []byte) (bool, error) {
			if !bytes.Equal(k, unfinishedKey) {
				out[string(k)] = string(v)
			}
			return true, nil
		})
	}))
	return out
}

// applyLogged applies op as the stream applier does: at identity_log
// offset off, with its lineage rows stored.
func applyLogged(tx Tx, g *unionfind.Graph, op unionfind.Op, off int64) error {
	op.Log = unionfind.LogPos{Partition: 0, Offset: off, Time: 1700000000000 + off}
	res, err := g.Apply(tx, &op)
	for i := 0; err == nil && i < len(res.Merges); i++ {
		err = tx.PutLineage(res.Merges[i])
	}
	return err
}

// TestDeferredIndexSameState applies the same random ops (merges, splits,
// deletions, properties) to a store that writes them as they come and to
// one set up as a long rebuild sets up its own — pipelined, filtered,
// sorted commits, the lineage index held back and spilled every few rows
// — and, once the deferral ends, finds every row equal: the lineage index
// included, and without the rows of an update that failed.
func TestDeferredIndexSameState(t *testing.T) {
	defer func(n int64, f int) { deferSpillBytes, deferFanIn = n, f }(deferSpillBytes, deferFanIn)
	deferSpillBytes, deferFanIn = 2<<10, 3 // many runs, merged into tiers
	plain, _ := openTest(t, testOptions(t))
	replay, dir := openTest(t, testOptions(t))
	must(t, replay.SetPipelined(true))
	must(t, replay.SetReplayFilter(true))
	must(t, replay.SetSortedCommits(true))
	must(t, replay.SetDeferredIndex(true))
	u := bigUniverse(40)
	c := randChooser{rand.New(rand.NewPCG(7, 7))}
	g := unionfind.Graph{MaxMergeMove: 5}
	resolve := func(team, did string) unionfind.PersonID {
		p, _, err := plain.Find(team, did)
		require.NoError(t, err)
		return p.ID
	}
	boom := errors.New("boom")
	for i := range 600 {
		op := genOp(c, u, unionfind.Source{Topic: "ev", Offset: int64(i)}, resolve)
		fail := i%97 == 50 // applied, then the update fails: nothing of it stays
		for _, s := range []*Store{plain, replay} {
			err := s.Update(func(tx Tx) error {
				if err := applyLogged(tx, &g, op, int64(i)); err != nil {
					return err
				}
				if fail {
					return boom
				}
				return nil
			})
			if fail {
				require.ErrorIs(t, err, boom)
			} else {
				require.NoError(t, err, "op %d %s", i, describeOp(&op))
			}
		}
	}
	require.NoError(t, replay.eng.(*badgerEngine).pipe.index.err)
	runs := replay.eng.(*badgerEngine).pipe.index.runs
	require.NotEmpty(t, runs, "the index spilled runs")
	files, err := os.ReadDir(runDir(dir))
	require.NoError(t, err)
	require.Len(t, files, len(runs), "merged runs are removed")
	tiers := map[int]int{}
	for _, r := range runs {
		tiers[r.tier]++
	}
	require.GreaterOrEqual(t, len(tiers), 3, "runs merged into tiers: %v", tiers)
	for tier, n := range tiers {
		require.Less(t, n, deferFanIn, "tier %d", tier)
	}
	must(t, replay.SetSortedCommits(false)) // writes the index, then unmarks
	_, err = os.Stat(runDir(dir))
	require.ErrorIs(t, err, os.ErrNotExist, "runs removed once written")
	want, got := rawRows(t, plain), rawRows(t, replay)
	require.NotEmpty(t, want)
	n := 0
	for k := range want {
		if bytes.HasPrefix([]byte(k), tagHistory) {
			n++
		}
	}
	require.Greater(t, n, 100, "lineage index rows")
	require.Equal(t, want, got)
	// The store is whole: it opens again.
	must(t, replay.Close())
	again, err := Open(dir, testOptions(t))
	require.NoError(t, err)
	require.NoError(t, again.Close())
}

// TestDeferredIndexTxnBound: an update whose lineage index is held back
// still counts it against Badger's bound on one transaction, so exactly
// the updates that fit with the index written fit with it held back — a
// replay must refuse the ops the live applier refuses.
func TestDeferredIndexTxnBound(t *testing.T) {
	merges := func(n int) func(Tx) error {
		g := unionfind.Graph{}
		return func(tx Tx) error {
			for i := range n {
				// Logins, every other one merging the last two users:
				// lineage rows with their index.
				op := unionfind.Op{Kind: unionfind.OpEvent, Team: "1", Timestamp: 1,
					Source:     unionfind.Source{Topic: "ev", Offset: int64(i)},
					DistinctID: fmt.Sprintf("user-with-a-long-distinct-id-%06d", i),
					Merge:      &unionfind.Merge{Other: fmt.Sprintf("anon-with-a-long-distinct-id-%06d", i), Guarded: true}}
				if i%2 == 1 {
					op.DistinctID, op.Merge = fmt.Sprintf("user-with-a-long-distinct-id-%06d", i-1),
						&unionfind.Merge{Other: fmt.Sprintf("user-with-a-long-distinct-id-%06d", i-2)}
				}
				if err := applyLogged(tx, &g, op, int64(i)); err != nil {
					return err
				}
			}
			return nil
		}
	}
	fits := func(deferred bool, n int) bool {
		o := testOptions(t)
		o.MemTableBytes = 1 << 20 // a transaction may hold ~150 KB
		s, _ := openTest(t, o)
		must(t, s.SetPipelined(true))
		must(t, s.SetSortedCommits(true))
		must(t, s.SetDeferredIndex(deferred))
		err := s.Update(merges(n))
		if err != nil && !IsTxnTooBig(err) {
			t.Fatalf("update of %d merges: %v", n, err)
		}
		must(t, s.SetSortedCommits(false))
		must(t, s.Close())
		return err == nil
	}
	// The most merges one transaction takes with the index written.
	lo, hi := 1, 4000
	require.True(t, fits(false, lo))
	require.False(t, fits(false, hi))
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		if fits(false, mid) {
			lo = mid
		} else {
			hi = mid
		}
	}
	t.Logf("%d merges fit one transaction, %d do not", lo, hi)
	require.True(t, fits(true, lo), "index held back: %d merges fit, as written", lo)
	require.False(t, fits(true, hi), "index held back: %d merges do not fit, as written", hi)
}

// TestDeferredIndexFails: if the held-back rows cannot be written (here a
// spill fails: a file stands where the runs go), ending the sorted commits
// says so, the store stays marked, and Open refuses it until it is made
// again; and the deferral needs sorted commits.
func TestDeferredIndexFails(t *testing.T) {
	defer func(n int64) { deferSpillBytes = n }(deferSpillBytes)
	deferSpillBytes = 1
	s, dir := openTest(t, testOptions(t))
	require.Error(t, s.SetDeferredIndex(true), "without sorted commits")
	must(t, s.SetPipelined(true))
	must(t, s.SetSortedCommits(true))
	must(t, s.SetDeferredIndex(true))
	require.NoError(t, os.WriteFile(runDir(dir), []byte("in the way"), 0o644))
	g := unionfind.Graph{}
	for i, op := range []unionfind.Op{
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "u", Timestamp: 1, Merge: &unionfind.Merge{Other: "a", Guarded: true}},
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "v", Timestamp: 2, Merge: &unionfind.Merge{Other: "b", Guarded: true}},
		{Kind: unionfind.OpEvent, Team: "1", DistinctID: "v", Timestamp: 3, Merge: &unionfind.Merge{Other: "u"}},
	} {
		require.NoError(t, s.Update(func(tx Tx) error { return applyLogged(tx, &g, op, int64(i)) }),
			"the update is committed; its index rows fail later")
	}
	err := s.SetSortedCommits(false)
	require.ErrorIs(t, err, ErrUnfinishedReplay)
	require.ErrorContains(t, err, "deferred lineage index")
	must(t, s.Close())
	_, err = Open(dir, testOptions(t))
	require.ErrorIs(t, err, ErrUnfinishedReplay)

	// Memory has no deferral: nothing to turn on.
	require.NoError(t, NewMemory().SetDeferredIndex(true))
}

// TestDeferredIndexHostileIDs: the longest distinct_ids a lineage row may
// name (1,024 bytes) give the same rows held back as written, and one
// byte more is refused the same way, before anything is held.
func TestDeferredIndexHostileIDs(t *testing.T) {
	long := func(c byte, n int) string { return string(bytes.Repeat([]byte{c}, n)) }
	for _, n := range []int{maxLineageString, maxLineageString + 1} {
		t.Run(fmt.Sprint(n), func(t *testing.T) {
			plain, _ := openTest(t, testOptions(t))
			replay, _ := openTest(t, testOptions(t))
			must(t, replay.SetPipelined(true))
			must(t, replay.SetSortedCommits(true))
			must(t, replay.SetDeferredIndex(true))
			row := unionfind.MergeRow{Team: "1", Rule: unionfind.RuleAlias, Survivor: unionfind.PersonID{1},
				Absorbed: unionfind.PersonID{2}, Moved: []string{long('a', n), long('b', n)},
				Other: long('a', n), Into: long('c', n), Log: unionfind.LogPos{Offset: 7}}
			var errs []error
			for _, s := range []*Store{plain, replay} {
				errs = append(errs, s.Update(func(tx Tx) error { return tx.PutLineage(row) }))
			}
			if n > maxLineageString {
				for _, err := range errs {
					require.ErrorContains(t, err, "longer than 1024 bytes")
				}
			} else {
				require.NoError(t, errors.Join(errs...))
			}
			must(t, replay.SetSortedCommits(false))
			got := rawRows(t, replay)
			require.Equal(t, rawRows(t, plain), got)
			held := 0
			for k := range got {
				if bytes.HasPrefix([]byte(k), tagHistory) {
					held++
				}
			}
			if n <= maxLineageString {
				require.Equal(t, 2, held, "the index rows: two moved ids (persons are chained, not indexed)")
			} else {
				require.Zero(t, held)
			}
		})
	}
}

// TestDeferredLineageOpRows: an op's lineage rows are numbered by the rows
// stored before them (PutLineage reads index 0, 1, …), so a replay with
// the index held back must store them exactly as a plain store: a second
// row of the op gets index 1, an equal row again is a no-op, and a row
// stored before the replay began still counts. It guards the l/ rows
// against being held back like h/ without PutLineage seeing them (tried:
// BENCHMARKS.md, target 3).
func TestDeferredLineageOpRows(t *testing.T) {
	row := func(off int64, survivor byte, moved ...string) unionfind.MergeRow {
		return unionfind.MergeRow{Team: "1", Rule: unionfind.RuleAlias, Survivor: unionfind.PersonID{survivor},
			Absorbed: unionfind.PersonID{9}, Moved: moved, Log: unionfind.LogPos{Partition: 2, Offset: off}}
	}
	before := row(5, 1, "a") // op 5's first row, stored before the replay
	plain, _ := openTest(t, testOptions(t))
	replay, _ := openTest(t, testOptions(t))
	for _, s := range []*Store{plain, replay} {
		must(t, s.Update(func(tx Tx) error { return tx.PutLineage(before) }))
	}
	must(t, replay.SetPipelined(true))
	must(t, replay.SetReplayFilter(true))
	must(t, replay.SetSortedCommits(true))
	must(t, replay.SetDeferredIndex(true))
	updates := [][]unionfind.MergeRow{
		{row(5, 2, "b"), before, row(5, 3, "c"), row(5, 2, "b")}, // op 5: indexes 1, 2
		{row(6, 1, "d"), row(6, 1, "d"), row(6, 4, "e")},         // op 6: 0, 1
		{row(7, 1, "f")},
	}
	for _, rows := range updates {
		for _, s := range []*Store{plain, replay} {
			must(t, s.Update(func(tx Tx) error {
				for _, r := range rows {
					if err := tx.PutLineage(r); err != nil {
						return err
					}
				}
				return nil
			}))
		}
	}
	must(t, replay.SetSortedCommits(false))
	want, got := rawRows(t, plain), rawRows(t, replay)
	require.Equal(t, want, got)
	stored := map[lpos]bool{}
	for k := range want {
		if bytes.HasPrefix([]byte(k), tagLineage) {
			kr := newKeyReader([]byte(k), tagLineage)
			kr.str()
			p, ok := readPos(kr.b)
			require.True(t, ok)
			stored[p] = true
		}
	}
	require.Equal(t, map[lpos]bool{
		{part: 2, off: 5, index: 0}: true, {part: 2, off: 5, index: 1}: true, {part: 2, off: 5, index: 2}: true,
		{part: 2, off: 6, index: 0}: true, {part: 2, off: 6, index: 1}: true,
		{part: 2, off: 7, index: 0}: true,
	}, stored)
}

// TestDeferredSortOrder: sortRows orders rows exactly as their keys
// compare bytewise, the later write of one key first — for keys that share
// a long prefix, keys that end inside the 8 bytes it reads ahead, keys
// that differ only in zero bytes, and duplicates; across spills (the
// shared prefix starts again) and after keys of another team shrink it.
func TestDeferredSortOrder(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for round := range 200 {
		var d deferredIndex
		prefix := []byte("h/\x04team")
		if round%4 == 3 {
			prefix = prefix[:2+r.IntN(6)] // a shorter shared prefix
		}
		var rows []deferredRow
		for i := range 1 + r.IntN(300) {
			k := append([]byte(nil), prefix...)
			if round%5 == 4 && i%7 == 0 {
				k = []byte("h/\x05other") // another team
			}
			for range r.IntN(12) {
				k = append(k, []byte{0, 1, 0xff, 'a'}[r.IntN(4)])
			}
			rows = append(rows, deferredRow{k, []byte{byte(i), byte(i >> 8)}})
		}
		d.add(rows)
		d.sortRows()
		want := slices.Clone(rows)
		for i := range want { // later first among equal keys, then stable
			want[i].v = rows[len(rows)-1-i].v
			want[i].k = rows[len(rows)-1-i].k
		}
		slices.SortStableFunc(want, func(a, b deferredRow) int { return bytes.Compare(a.k, b.k) })
		for i, row := range d.rows {
			require.Equal(t, want[i].k, d.key(row), "round %d row %d", round, i)
			require.Equal(t, want[i].v, d.val(row), "round %d row %d: the later write first", round, i)
		}
	}
}

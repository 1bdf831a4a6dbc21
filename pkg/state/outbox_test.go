package state

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// outboxRows returns the store's x/ rows: key → value.
func outboxRows(t *testing.T, s *Store) map[string][]byte {
	t.Helper()
	rows := map[string][]byte{}
	must(t, s.eng.view(func(r kvReader) error {
		return r.scan(tagOutbox, nil, false, func(k, v []byte) (bool, error) {
			rows[string(k)] = bytes.Clone(v)
			return true, nil
		})
	}))
	return rows
}

// testOutboxBatches: the results of one partition's rising sources in one
// Update are one row, under the last source's key, and read back source by
// source; a partition with one source, or sources out of order, gets a row
// per source; a batch over maxOutboxBatchBytes is cut, and a result
// bigger than a batch row is written alone; a trim deletes a
// batch row once all of its sources are below the offset.
func testOutboxBatches(t *testing.T, s *Store) {
	row := func(i int64, pad int) unionfind.Result {
		return unionfind.Result{
			DistinctIDs: []unionfind.DistinctIDRow{{Team: "1", DistinctID: "d", PersonID: pidA, Version: uint64(i)}},
			Warnings:    []unionfind.Warning{{Type: "w", Details: strings.Repeat("x", pad)}},
		}
	}
	src := func(p int32, off int64, idx uint32) unionfind.Source {
		return unionfind.Source{Topic: "ev", Partition: p, Offset: off, Index: idx}
	}
	big := maxOutboxBatchBytes * 2 / 5 // two fit a row, three do not
	update(t, s, func(tx Tx) error {
		for _, off := range []int64{10, 11, 12, 14} {
			for idx := range uint32(2) {
				must(t, tx.PutOutbox(src(0, off, idx), row(off, 0)))
			}
			must(t, tx.PutOutbox(src(1, off, 0), row(off, 0)))
		}
		must(t, tx.PutOutbox(src(2, 20, 0), row(20, 0))) // alone
		must(t, tx.PutOutbox(src(3, 31, 0), row(31, 0))) // out of order: batched in order
		must(t, tx.PutOutbox(src(3, 30, 0), row(30, 0)))
		must(t, tx.PutOutbox(src(7, 71, 0), row(0, 0))) // a source twice: a row each, the second with both results
		must(t, tx.PutOutbox(src(7, 70, 0), row(70, 0)))
		must(t, tx.PutOutbox(src(7, 71, 0), row(71, 0)))
		for off := int64(40); off < 45; off++ {
			must(t, tx.PutOutbox(src(4, off, 0), row(off, big)))
		}
		for off := int64(50); off < 54; off++ { // 51 is bigger than a batch row
			must(t, tx.PutOutbox(src(5, off, 0), row(off, map[bool]int{true: maxOutboxBatchBytes}[off == 51])))
		}
		return nil
	})
	rows := outboxRows(t, s)
	want := map[string]byte{ // key → first byte of the value
		string(outboxKey(nil, src(0, 14, 1))): outboxBatch,
		string(outboxKey(nil, src(1, 14, 0))): outboxBatch,
		string(outboxKey(nil, src(2, 20, 0))): codecV1,
		string(outboxKey(nil, src(3, 31, 0))): outboxBatch,
		string(outboxKey(nil, src(7, 70, 0))): codecV1,
		string(outboxKey(nil, src(7, 71, 0))): codecV1,
		string(outboxKey(nil, src(4, 41, 0))): outboxBatch,
		string(outboxKey(nil, src(4, 43, 0))): outboxBatch,
		string(outboxKey(nil, src(4, 44, 0))): codecV1, // the rest, alone
		string(outboxKey(nil, src(5, 50, 0))): codecV1,
		string(outboxKey(nil, src(5, 51, 0))): codecV1,
		string(outboxKey(nil, src(5, 53, 0))): outboxBatch,
	}
	got := map[string]byte{}
	for k, v := range rows {
		got[k] = v[0]
	}
	require.Equal(t, want, got)

	read := func(p int32, from, to int64) []unionfind.Source {
		var out []unionfind.Source
		must(t, outbox(s, "ev", p, from, to, func(src unionfind.Source, r unionfind.Result) error {
			// The last application's rows come last (a source applied
			// twice has both).
			if r.DistinctIDs[len(r.DistinctIDs)-1].Version != uint64(src.Offset) || src == (unionfind.Source{Topic: "ev", Partition: 7, Offset: 71}) && len(r.DistinctIDs) != 2 {
				t.Fatalf("rows of %+v: %+v", src, r)
			}
			out = append(out, src)
			return nil
		}))
		return out
	}
	for _, c := range []struct {
		p        int32
		from, to int64
		want     []unionfind.Source
	}{
		{0, 11, 12, []unionfind.Source{src(0, 11, 0), src(0, 11, 1), src(0, 12, 0), src(0, 12, 1)}},
		{0, 0, 10, []unionfind.Source{src(0, 10, 0), src(0, 10, 1)}},
		{0, 13, 13, nil},
		{0, 14, 99, []unionfind.Source{src(0, 14, 0), src(0, 14, 1)}},
		{0, 15, 99, nil},
		{1, 0, 99, []unionfind.Source{src(1, 10, 0), src(1, 11, 0), src(1, 12, 0), src(1, 14, 0)}},
		{3, 0, 99, []unionfind.Source{src(3, 30, 0), src(3, 31, 0)}},
		{7, 0, 99, []unionfind.Source{src(7, 70, 0), src(7, 71, 0)}},
		{4, 41, 43, []unionfind.Source{src(4, 41, 0), src(4, 42, 0), src(4, 43, 0)}},
		{5, 0, 99, []unionfind.Source{src(5, 50, 0), src(5, 51, 0), src(5, 52, 0), src(5, 53, 0)}},
	} {
		if got := read(c.p, c.from, c.to); !reflect.DeepEqual(got, c.want) {
			t.Fatalf("partition %d, %d..%d:\n got %+v\nwant %+v", c.p, c.from, c.to, got, c.want)
		}
	}
	// Two transactions whose batch rows interleave, as the ops of one
	// source partition do when they went to two identity_log partitions
	// (two teams) and were applied in two transactions: rows under 150
	// (10, 50, 150) and 120 (20, 60, 120). A span that ends between them
	// (a new owner's batch, smaller than the one whose ops a crashed owner
	// logged) gets every source in it from both rows, in source order.
	for _, offs := range [][]int64{{10, 50, 150}, {20, 60, 120}} {
		update(t, s, func(tx Tx) error {
			for _, off := range offs {
				must(t, tx.PutOutbox(src(6, off, 0), row(off, 0)))
			}
			return nil
		})
	}
	require.Equal(t, []unionfind.Source{src(6, 10, 0), src(6, 20, 0), src(6, 50, 0), src(6, 60, 0)}, read(6, 10, 90))
	require.Equal(t, []unionfind.Source{src(6, 50, 0), src(6, 60, 0), src(6, 120, 0)}, read(6, 30, 120))
	require.Equal(t, []unionfind.Source{src(6, 150, 0)}, read(6, 121, 200))

	// A source applied again in a later Update (its op logged again
	// through another identity_log partition): every source of the
	// earlier batch row keeps its rows, and the source has the rows of
	// both applications — whether the new row has the batch row's key
	// (30) or its own (20, inside the batch row under 30).
	update(t, s, func(tx Tx) error {
		for _, off := range []int64{10, 20, 30} {
			must(t, tx.PutOutbox(src(8, off, 0), row(off, 0)))
		}
		return nil
	})
	again := func(off int64) {
		update(t, s, func(tx Tx) error { return tx.PutOutbox(src(8, off, 0), row(off+1000, 0)) })
	}
	again(30)
	again(20)
	versions := map[int64][]uint64{}
	var calls []int64
	must(t, outbox(s, "ev", 8, 0, 99, func(src unionfind.Source, r unionfind.Result) error {
		calls = append(calls, src.Offset)
		for _, d := range r.DistinctIDs {
			versions[src.Offset] = append(versions[src.Offset], d.Version)
		}
		return nil
	}))
	require.Equal(t, []uint64{30, 1030}, versions[30], "the batch row's key: merged, earlier first")
	require.ElementsMatch(t, []uint64{20, 1020}, versions[20], "a key inside the batch row: both rows read")
	require.Equal(t, []uint64{10}, versions[10])
	require.Equal(t, []int64{10, 20, 30}, calls, "one call per source")

	// A batch row stays until all of its sources are trimmed.
	must(t, s.TrimOutbox("ev", 0, 14))
	require.Equal(t, []unionfind.Source{src(0, 10, 0), src(0, 10, 1), src(0, 11, 0), src(0, 11, 1), src(0, 12, 0), src(0, 12, 1), src(0, 14, 0), src(0, 14, 1)}, read(0, 0, 99))
	must(t, s.TrimOutbox("ev", 0, 15))
	require.Empty(t, read(0, 0, 99))
	must(t, s.TrimOutbox("ev", 4, 43)) // the row of 40 and 41 goes; that of 42 and 43 stays
	require.Equal(t, []unionfind.Source{src(4, 42, 0), src(4, 43, 0), src(4, 44, 0)}, read(4, 0, 99))
}

// TestOutboxOneSourceUnchanged: an Update with one source's result writes
// the row it wrote before batches — key and value — so what a lone op
// costs against the transaction's bound, and whether it is refused as too
// big, do not change.
func TestOutboxOneSourceUnchanged(t *testing.T) {
	s, _ := openTest(t, testOptions(t))
	res := unionfind.Result{Warnings: []unionfind.Warning{{Type: "w", Details: "d"}}}
	src := unionfind.Source{Topic: "ev", Partition: 2, Offset: 7, Index: 1}
	must(t, s.Update(func(tx Tx) error { return tx.PutOutbox(src, res) }))
	require.Equal(t, map[string][]byte{string(outboxKey(nil, src)): encodeResult(&res)}, outboxRows(t, s))

	// An op's result over the value bound is refused by its PutOutbox, as
	// an invalid write (the applier rejects that op alone), not at commit.
	huge := unionfind.Result{Warnings: []unionfind.Warning{{Type: "w", Details: strings.Repeat("x", MaxValueBytes)}}}
	err := s.Update(func(tx Tx) error {
		err := tx.PutOutbox(unionfind.Source{Topic: "ev", Offset: 8}, huge)
		require.True(t, IsInvalidWrite(err), "%v", err)
		return err
	})
	require.ErrorIs(t, err, ErrValueTooLarge)
}

// TestOutboxBatchCorrupt: a batch row that is truncated, empty, out of
// order or not ending at its key's source is a corrupt error naming the
// key, never a panic or a wrong result.
func TestOutboxBatchCorrupt(t *testing.T) {
	one := encodeResult(&unionfind.Result{Warnings: []unionfind.Warning{{Type: "w"}}})
	batch := func(offs ...int64) []byte {
		v := binary.AppendUvarint([]byte{outboxBatch}, uint64(len(offs)))
		for _, o := range offs {
			v = binary.AppendVarint(v, o)
			v = binary.AppendUvarint(v, 0)
			v = appendBytes(v, string(one))
		}
		return v
	}
	good := batch(3, 5)
	for name, v := range map[string][]byte{
		"truncated":     good[:len(good)-2],
		"empty":         {outboxBatch, 0},
		"out of order":  batch(5, 3),
		"not its key":   batch(3, 4),
		"count too big": append([]byte{outboxBatch, 9}, good[2:]...),
		"bad result":    append(batch(3)[:3], append(appendBytes(nil, "\x07junk"), 0)...),
	} {
		t.Run(name, func(t *testing.T) {
			s, _ := openTest(t, testOptions(t))
			key := outboxKey(nil, unionfind.Source{Topic: "ev", Offset: 5})
			must(t, s.Update(func(u Tx) error { return u.(*tx).w.set(key, v) }))
			err := outbox(s, "ev", 0, 0, 99, func(unionfind.Source, unionfind.Result) error { return nil })
			require.ErrorIs(t, err, ErrCorrupt)
		})
	}
	s, _ := openTest(t, testOptions(t))
	key := outboxKey(nil, unionfind.Source{Topic: "ev", Offset: 5})
	must(t, s.Update(func(u Tx) error { return u.(*tx).w.set(key, good) }))
	var got []int64
	must(t, outbox(s, "ev", 0, 0, 99, func(src unionfind.Source, _ unionfind.Result) error { got = append(got, src.Offset); return nil }))
	require.Equal(t, []int64{3, 5}, got)
}

// FuzzOutboxBatch: any bytes as a batch row are read without a panic, and
// what is read lies in the span, rises, and ends at the key's source.
func FuzzOutboxBatch(f *testing.F) {
	one := encodeResult(&unionfind.Result{Warnings: []unionfind.Warning{{Type: "w"}}})
	v := binary.AppendUvarint([]byte{outboxBatch}, 2)
	for _, o := range []int64{3, 5} {
		v = binary.AppendVarint(v, o)
		v = binary.AppendUvarint(v, 0)
		v = appendBytes(v, string(one))
	}
	f.Add(v, int64(0), int64(9))
	f.Add([]byte{outboxBatch}, int64(0), int64(9))
	f.Fuzz(func(t *testing.T, v []byte, from, to int64) {
		if len(v) == 0 {
			v = []byte{outboxBatch}
		}
		v[0] = outboxBatch
		last := unionfind.Source{Topic: "ev", Offset: 5}
		var prev *unionfind.Source
		err := eachOutboxBatch(v, last, OutboxSpan{From: from, To: to}, func(src unionfind.Source, _ unionfind.Result) error {
			if src.Offset < from || src.Offset > to || src.Topic != "ev" || prev != nil && !prev.Less(src) {
				t.Fatalf("read %+v after %+v in %d..%d", src, prev, from, to)
			}
			prev = &src
			return nil
		})
		if err != nil && !isCorrupt(err) {
			t.Fatalf("not a corrupt error: %v", err)
		}
	})
}

// TestOutboxMergeEdges: where merging with the stored row cannot be done,
// the row is written as before merges, over it — a stored row that does
// not decode, and a merge that would pass MaxValueBytes (two huge results
// of one source, each within the bound) — so the Update is not failed
// after its ops were applied, on every replica alike.
func TestOutboxMergeEdges(t *testing.T) {
	src := unionfind.Source{Topic: "ev", Partition: 0, Offset: 5}
	res := func(v uint64, pad int) unionfind.Result {
		return unionfind.Result{DistinctIDs: []unionfind.DistinctIDRow{{Team: "1", DistinctID: "d", PersonID: pidA, Version: v}},
			Warnings: []unionfind.Warning{{Type: "w", Details: strings.Repeat("x", pad)}}}
	}
	versions := func(s *Store) []uint64 {
		var out []uint64
		must(t, outbox(s, "ev", 0, 0, 99, func(_ unionfind.Source, r unionfind.Result) error {
			for _, d := range r.DistinctIDs {
				out = append(out, d.Version)
			}
			return nil
		}))
		return out
	}

	s := NewMemory().Store
	must(t, s.eng.update(func(w kvWriter) error { return w.set(outboxKey(nil, src), []byte{0x09, 0xff}) }))
	update(t, s, func(tx Tx) error { return tx.PutOutbox(src, res(2, 0)) })
	require.Equal(t, []uint64{2}, versions(s), "a corrupt stored row is written over")

	s = NewMemory().Store
	huge := MaxValueBytes * 3 / 5
	update(t, s, func(tx Tx) error { return tx.PutOutbox(src, res(1, huge)) })
	update(t, s, func(tx Tx) error { return tx.PutOutbox(src, res(2, huge)) })
	require.Equal(t, []uint64{2}, versions(s), "a merge over the value bound: the new row alone")
	update(t, s, func(tx Tx) error { return tx.PutOutbox(src, res(3, 0)) })
	require.Equal(t, []uint64{2, 3}, versions(s), "a merge within it")
}

// TestPersonKeyIDBounds: a p/ key whose team length is near 2^64 is not a
// person key (the length check must not wrap), and Fingerprint and
// ContentDigest report it as corrupt instead of panicking.
func TestPersonKeyIDBounds(t *testing.T) {
	bad := binary.AppendUvarint([]byte("p/"), 1<<64-16)
	_, ok := personKeyID(bad)
	require.False(t, ok)
	_, ok = personKeyID(personKey(nil, "1", pidA)[:19])
	require.False(t, ok)
	id, ok := personKeyID(personKey(nil, "team", pidA))
	require.True(t, ok)
	require.Equal(t, pidA, id)

	s := NewMemory().Store
	must(t, s.eng.update(func(w kvWriter) error { return w.set(bad, []byte{codecV2, 0, 0, 0, 0, 0}) }))
	_, err := s.Fingerprint()
	require.ErrorIs(t, err, ErrCorrupt)
	_, err = s.ContentDigest()
	require.ErrorIs(t, err, ErrCorrupt)
}

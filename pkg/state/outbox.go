package state

import (
	"encoding/binary"
	"fmt"
	"math"
	"slices"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// trimChunk is how many outbox keys one TrimOutbox transaction deletes.
const trimChunk = 4096

// The outbox (x/) holds the feed rows of the ops an Update applied, per
// source, until the worker of the source partition has read them and its
// Kafka transaction has committed those offsets (TrimOutbox). An Update's
// rows are written when its fn returns (flushOutbox): the results of one
// source partition's consecutive sources go into one row, under the key of
// the last of them, as
//
//	outboxBatch ‖ uvarint n ‖ n × (varint offset ‖ uvarint index ‖ bytes result)
//
// with the sources in rising order (an Update gets one partition's sources
// interleaved when their ops' teams log to different identity_log
// partitions: they are sorted first) and each result as a row of one
// source is (encodeResult), up to maxOutboxBatchBytes of results a row. A
// result alone (one source of its partition in the Update, or one bigger
// than a batch row), and a partition's results when a source comes twice
// (an op applied again: putOutboxRow), get a row per source, keyed by it,
// as before batches: rows of both kinds are read. So a batch row is never
// near the value bound, and a lone op writes what it always wrote (but
// for an op applied again, whose row keeps both applications'). One row
// for a batch's ops, not one per op: each row is a skiplist insert into
// Badger's memtable, a write-ahead log entry, a key the worker's read
// iterates, and a delete when trimmed (BENCHMARKS.md, target 1). A batch row's key is its last source, so
// TrimOutbox deletes it only once all of its sources are below the
// committed offset, and OutboxSpans finds it from the span's start.
const maxOutboxBatchBytes = 256 << 10

// outboxEntry is one PutOutbox: a source and its encoded result.
type outboxEntry struct {
	src unionfind.Source
	val []byte
}

// flushOutbox writes the rows of t's PutOutbox calls, batched per source
// partition (above), in the order of their first PutOutbox.
func (t *tx) flushOutbox() error {
	if len(t.outbox) == 0 {
		return nil
	}
	w, err := t.writer()
	if err != nil {
		return err
	}
	type part struct {
		topic string
		p     int32
	}
	var order []part
	groups := map[part][]outboxEntry{}
	for _, e := range t.outbox {
		k := part{e.src.Topic, e.src.Partition}
		if _, ok := groups[k]; !ok {
			order = append(order, k)
		}
		groups[k] = append(groups[k], e)
	}
	t.outbox = nil
	one := func(e outboxEntry) error { return putOutboxRow(w, []outboxEntry{e}) }
	for _, k := range order {
		g := groups[k]
		// A partition's sources reach an Update through as many
		// identity_log partitions as their ops' teams: in order within
		// each, interleaved between them. Batched in source order.
		if !slices.IsSortedFunc(g, compareEntries) {
			g = slices.Clone(g)
			slices.SortStableFunc(g, compareEntries)
		}
		if !outboxRising(g) { // a source twice: one row each, the second merged with the first
			g = groups[k]
			for _, e := range g {
				if err := one(e); err != nil {
					return err
				}
			}
			continue
		}
		// Runs of results that fit a batch row together; a run of one,
		// and a result bigger than a batch row, are written alone.
		var run []outboxEntry
		size := 0
		flush := func() error {
			defer func() { run, size = run[:0], 0 }()
			if len(run) == 0 {
				return nil
			}
			return putOutboxRow(w, run)
		}
		for _, e := range g {
			// A run of two or more holds at most maxOutboxBatchBytes of
			// results: a bigger result ends up in a run of its own.
			if size+len(e.val) > maxOutboxBatchBytes {
				if err := flush(); err != nil {
					return err
				}
			}
			run = append(run, e)
			size += len(e.val)
		}
		if err := flush(); err != nil {
			return err
		}
	}
	return nil
}

// putOutboxRow writes the row of run (sources rising, keyed by the last),
// merged with a row already stored under that key. There is one only when
// a source's op was applied again: logged again on a retry through
// another identity_log partition (its team changed meanwhile: a reloaded
// teams.file), where that partition's high-water marks do not skip it.
// Both applications changed the replica, so the row keeps the rows of
// both (a source in both gets the two results, the earlier first) and
// those of the earlier row's other sources; writing over it would lose
// them (the row was a batch) or the first application's rows.
//
// The row is written as before merges — over the stored one — when the
// stored row does not decode (a corrupt row the worker could not read
// either), or when the merged row would pass MaxValueBytes (two huge
// results of one source): a write the store refuses there would fail the
// Update after its ops were applied, with no op to reject, on every
// replica.
func putOutboxRow(w kvWriter, run []outboxEntry) error {
	last := run[len(run)-1].src
	key := outboxKey(nil, last)
	var old []outboxEntry
	found, err := w.get(key, func(v []byte) error {
		var derr error
		if old, derr = outboxRowEntries(last, v); derr != nil {
			old = nil
		}
		return nil
	})
	if err != nil {
		return wrapKey(err, key)
	}
	v := outboxRowValue(run)
	if found && len(old) > 0 {
		merged, err := mergeOutbox(old, run)
		if err != nil {
			return wrapKey(err, key)
		}
		if mv := outboxRowValue(merged); len(mv) <= MaxValueBytes {
			v = mv
		}
	}
	return wrapKey(w.set(key, v), key)
}

// outboxRowValue is the value of the row of run: its one result, or a
// batch row.
func outboxRowValue(run []outboxEntry) []byte {
	if len(run) == 1 {
		return run[0].val
	}
	size := 0
	for _, e := range run {
		size += len(e.val)
	}
	v := make([]byte, 0, 1+binary.MaxVarintLen64+size+len(run)*3*binary.MaxVarintLen64)
	v = binary.AppendUvarint(append(v, outboxBatch), uint64(len(run)))
	for _, e := range run {
		v = binary.AppendVarint(v, e.src.Offset)
		v = binary.AppendUvarint(v, uint64(e.src.Index))
		v = append(binary.AppendUvarint(v, uint64(len(e.val))), e.val...)
	}
	return v
}

// outboxRowEntries returns the entries of the outbox row v keyed by last,
// a batch row or a lone one, their results copied out of v.
func outboxRowEntries(last unionfind.Source, v []byte) ([]outboxEntry, error) {
	if len(v) == 0 || v[0] != outboxBatch {
		if _, err := decodeResult(v); err != nil {
			return nil, err
		}
		return []outboxEntry{{src: last, val: slices.Clone(v)}}, nil
	}
	var out []outboxEntry
	all := OutboxSpan{Partition: last.Partition, From: math.MinInt64, To: math.MaxInt64}
	err := eachOutboxBatch(v, last, all, func(src unionfind.Source, res unionfind.Result) error {
		out = append(out, outboxEntry{src: src, val: encodeResult(&res)})
		return nil
	})
	return out, err
}

// mergeOutbox merges two rows' entries, each in rising source order: a
// source in both gets one result, a's rows then b's (combineResults).
func mergeOutbox(a, b []outboxEntry) ([]outboxEntry, error) {
	out := make([]outboxEntry, 0, len(a)+len(b))
	for len(a) > 0 || len(b) > 0 {
		switch {
		case len(b) == 0 || len(a) > 0 && a[0].src.Less(b[0].src):
			out, a = append(out, a[0]), a[1:]
		case len(a) == 0 || b[0].src.Less(a[0].src):
			out, b = append(out, b[0]), b[1:]
		default:
			ra, err := decodeResult(a[0].val)
			if err != nil {
				return nil, err
			}
			rb, err := decodeResult(b[0].val)
			if err != nil {
				return nil, err
			}
			r := combineResults(ra, rb)
			out = append(out, outboxEntry{src: a[0].src, val: encodeResult(&r)})
			a, b = a[1:], b[1:]
		}
	}
	return out, nil
}

// combineResults is the rows of a, then those of b: two applications of
// one source's op.
func combineResults(a, b unionfind.Result) unionfind.Result {
	a.Persons = append(a.Persons, b.Persons...)
	a.DistinctIDs = append(a.DistinctIDs, b.DistinctIDs...)
	a.Warnings = append(a.Warnings, b.Warnings...)
	a.Merges = append(a.Merges, b.Merges...)
	a.Erased = append(a.Erased, b.Erased...)
	return a
}

func compareEntries(a, b outboxEntry) int { return a.src.Compare(b.src) }

// outboxRising reports whether g's sources rise strictly.
func outboxRising(g []outboxEntry) bool {
	for i := 1; i < len(g); i++ {
		if !g[i-1].src.Less(g[i].src) {
			return false
		}
	}
	return true
}

// OutboxSpan is a range of source offsets of one partition, both ends
// included.
type OutboxSpan struct {
	Partition int32
	From, To  int64
}

// OutboxSpans calls fn with the rows stored by Tx.PutOutbox for every
// source of each span's partition with From <= offset <= To: span after
// span, each in source order, all in one read-only snapshot (a batch reads
// all its partitions' rows with one engine transaction, not one each).
// Sources whose op produced nothing have no rows and are not visited. fn
// must not call Update.
//
// A batch row is keyed by its last source, and the rows of two applier
// transactions can interleave (10, 50, 150 under 150 and 20, 60, 120 under
// 120: one source partition's ops in two identity_log partitions), so no
// row past To ends the read — rows past To are rare (a crashed owner's
// larger batch) and the outbox is trimmed below the committed offsets —
// and a span's sources are put in order before fn sees them. fn sees each
// source once: a source applied twice (putOutboxRow) with the rows of
// both applications — in the order they were applied when they share a
// row, else in the order of their rows' keys.
func (s *Store) OutboxSpans(topic string, spans []OutboxSpan, fn func(unionfind.Source, unionfind.Result) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if len(spans) == 0 {
		return nil
	}
	var got []sourcedResult
	return s.eng.view(func(r kvReader) error {
		var prefix, start []byte
		for _, sp := range spans {
			prefix = outboxPrefix(prefix[:0], topic, sp.Partition)
			start = appendI64(append(start[:0], prefix...), sp.From)
			got = got[:0]
			add := func(src unionfind.Source, res unionfind.Result) error {
				got = append(got, sourcedResult{src, res})
				return nil
			}
			err := r.scan(prefix, start, false, func(key, val []byte) (bool, error) {
				kr := keyReader{b: key[len(prefix):], ok: true}
				src := unionfind.Source{Topic: topic, Partition: sp.Partition, Offset: kr.i64(), Index: kr.u32()}
				if !kr.done() {
					return false, wrapKey(corrupt("outbox key", "bad source"), key)
				}
				var err error
				if len(val) > 0 && val[0] == outboxBatch {
					err = eachOutboxBatch(val, src, sp, add)
				} else {
					err = visitOutbox(src, val, sp, add)
				}
				return err == nil, wrapKey(err, key)
			})
			if err != nil {
				return err
			}
			bySource := func(a, b sourcedResult) int { return a.src.Compare(b.src) }
			if !slices.IsSortedFunc(got, bySource) {
				slices.SortStableFunc(got, bySource)
			}
			// A source in two rows (applied again, its second row under
			// another key: putOutboxRow) is one call with the rows of both.
			n := 0
			for i := range got {
				if n > 0 && got[n-1].src == got[i].src {
					got[n-1].res = combineResults(got[n-1].res, got[i].res)
					continue
				}
				got[n] = got[i]
				n++
			}
			for i := range got[:n] {
				if err := fn(got[i].src, got[i].res); err != nil {
					return err
				}
			}
		}
		return nil
	})
}

// sourcedResult is one source's outbox result, read.
type sourcedResult struct {
	src unionfind.Source
	res unionfind.Result
}

// TrimOutbox deletes the outbox rows of the partition with offset < below,
// once the worker's transaction has committed those source offsets. It
// deletes in chunks of transactions: an interrupted trim leaves a prefix
// deleted, and the next trim finishes it.
func (s *Store) TrimOutbox(topic string, partition int32, below int64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	prefix := outboxPrefix(nil, topic, partition)
	for {
		var keys [][]byte
		err := s.eng.view(func(r kvReader) error {
			return r.scan(prefix, nil, true, func(key, _ []byte) (bool, error) {
				kr := keyReader{b: key[len(prefix):], ok: true}
				if off := kr.i64(); !kr.ok || off >= below {
					return false, nil
				}
				keys = append(keys, append([]byte(nil), key...))
				return len(keys) < trimChunk, nil
			})
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		err = s.eng.update(func(w kvWriter) error {
			for _, k := range keys {
				if err := w.del(k); err != nil {
					return wrapKey(err, k)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("state: trim outbox %s/%d below %d: %w", topic, partition, below, err)
		}
		if len(keys) < trimChunk {
			return nil
		}
	}
}

// eachOutboxBatch calls fn with the results of a batch row (flushOutbox)
// keyed by last whose sources are in sp. The sources must rise and end at
// last.
func eachOutboxBatch(val []byte, last unionfind.Source, sp OutboxSpan, fn func(unionfind.Source, unionfind.Result) error) error {
	d := decoder{b: val[1:]}
	n := d.count()
	if d.err == nil && n == 0 {
		d.fail("empty batch")
	}
	var prev unionfind.Source
	for i := uint64(0); i < n && d.err == nil; i++ {
		src := unionfind.Source{Topic: last.Topic, Partition: last.Partition, Offset: d.varint(), Index: d.u32()}
		v := d.bytes()
		if d.err != nil {
			break
		}
		if i > 0 && !prev.Less(src) || i == n-1 && src != last {
			d.fail("sources out of order")
			break
		}
		prev = src
		if err := visitOutbox(src, v, sp, fn); err != nil {
			return err
		}
	}
	return d.finish("outbox row")
}

// visitOutbox calls fn with the result v of src if src is in sp; a source
// outside sp (in a batch row found from the span's start, or a row past
// its end) is passed over.
func visitOutbox(src unionfind.Source, v []byte, sp OutboxSpan, fn func(unionfind.Source, unionfind.Result) error) error {
	if src.Offset < sp.From || src.Offset > sp.To {
		return nil
	}
	res, err := decodeResult(v)
	if err != nil {
		return err
	}
	return fn(src, res)
}

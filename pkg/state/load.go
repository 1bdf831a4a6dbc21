package state

import (
	"bytes"
	"fmt"

	"github.com/dgraph-io/badger/v4"
	"github.com/dgraph-io/badger/v4/pb"
	"github.com/dgraph-io/ristretto/v2/z"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// BulkLoad fills an empty store with identity records, fast: on Badger
// through its stream writer, which builds the bottom level's tables
// directly (no write-ahead log, no memtables, no compactions), the way to
// make a replica of ten million ids in a minute (`resolver bench
// --preload-ids`). fn hands the records to the BulkLoader; they are durable
// and visible when BulkLoad returns nil.
//
// The BulkLoader writes the keys and values Update writes for the same
// records (keys.go, codec.go), so reads of a loaded store behave as reads
// of one the applier built; but it reads nothing, so the records must be a
// consistent state (every mapping's person stored, each member's mapping
// pointing at its person), and it writes no bookkeeping: no applied
// offsets, no lineage, no refs, no outbox. Its order rules are in
// BulkLoader. A store that holds anything is refused (ErrNotEmpty): the
// stream writer replaces what is there. Records over their bounds
// (MaxKeyBytes, MaxValueBytes) are refused like in Update. If fn or the
// load fails, the store is left empty or partly loaded: open a new one.
// Nothing else may use the store meanwhile; the read-through cache is
// emptied at the end. BulkLoad turns the replay filter and sorted commits
// off.
func (s *Store) BulkLoad(fn func(*BulkLoader) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	s.mu.Lock() // no Update meanwhile
	defer s.mu.Unlock()
	s.filter = nil // it would not know the loaded keys (replayfilter.go)
	if e, ok := s.eng.(*badgerEngine); ok {
		// Its marker would make the store look full; the stream writer
		// would drop it anyway.
		if err := e.setSorted(false); err != nil {
			return fmt.Errorf("state: bulk load: %w", err)
		}
	}
	empty := true
	err := s.eng.view(func(r kvReader) error {
		return r.scan(nil, nil, true, func([]byte, []byte) (bool, error) {
			empty = false
			return false, nil
		})
	})
	if err != nil {
		return fmt.Errorf("state: bulk load: %w", err)
	}
	if !empty {
		return fmt.Errorf("state: bulk load into %s: %w", s.dir, ErrNotEmpty)
	}
	b := &BulkLoader{s: s, last: map[bulkStream][]byte{}, done: map[bulkStream]bool{}}
	if s.db != nil {
		b.sw = s.db.NewStreamWriter()
		if err := b.sw.Prepare(); err != nil {
			return fmt.Errorf("state: bulk load: %w", err)
		}
		b.buf = z.NewBuffer(bulkBufBytes, "state.BulkLoad")
		defer b.buf.Release()
	}
	err = fn(b)
	if err == nil {
		err = b.finish()
	}
	if err != nil {
		if b.sw != nil {
			b.sw.Cancel()
		}
		return err
	}
	if c := s.cache; c != nil {
		c.reset()
	}
	return nil
}

// bulkBufBytes is how much a BulkLoader buffers before handing it to
// Badger.
const bulkBufBytes = 4 << 20

// A BulkLoader takes the records of BulkLoad. Each kind of record of each
// team is one stream, which must come in one piece (all of the team's
// mappings, say, before anything of another stream, and never resumed
// after another began) and in ascending order within it:
//
//   - PutMapping: by distinct_id bytes;
//   - PutMember: by person id bytes, then distinct_id bytes (a person's
//     founder is not one: PutPerson takes it);
//   - PutPerson: by person id bytes.
//
// A record out of order, a duplicate, or a record of a stream already
// finished is refused with ErrUnsorted (Badger's stream writer would
// panic). Not safe for concurrent use.
type BulkLoader struct {
	s    *Store
	sw   *badger.StreamWriter // nil for Memory
	buf  *z.Buffer
	mem  [][2][]byte // Memory: pending writes
	cur  bulkStream
	id   uint32 // cur's stream id
	last map[bulkStream][]byte
	done map[bulkStream]bool
	n    int64
	err  error
}

type bulkStream struct {
	tag  byte // 'd', 'm', 'p'
	team string
}

// Written is the number of records the loader has taken.
func (b *BulkLoader) Written() int64 { return b.n }

// PutMapping writes a distinct_id's mapping (d/), as Tx.PutMapping.
func (b *BulkLoader) PutMapping(team, distinctID string, m unionfind.Mapping) error {
	return b.put(bulkStream{'d', team}, distinctID, mappingKey(make([]byte, 0, 8+len(team)+len(distinctID)), team, distinctID),
		appendMapping(make([]byte, 0, 2+16+10), team, distinctID, m))
}

// PutMember writes that distinctID is a member of person id (m/), as
// Tx.PutMember, for every member but the person's founder (the
// distinct_id whose implicit person id is, founder.go), which goes to
// PutPerson.
func (b *BulkLoader) PutMember(team string, id unionfind.PersonID, distinctID string) error {
	if isFounder(team, id, distinctID) {
		return fmt.Errorf("state: bulk load: a person's founder member is given to PutPerson, not PutMember")
	}
	return b.put(bulkStream{'m', team}, distinctID, memberKey(make([]byte, 0, 24+len(team)+len(distinctID)), team, id, distinctID), nil)
}

// PutPerson writes a person (p/), as Tx.PutPerson, with its founder
// member: the distinct_id whose implicit person p is, if it is one of p's
// members, else "".
func (b *BulkLoader) PutPerson(team string, p unionfind.Person, founder string) error {
	if founder != "" && !isFounder(team, p.ID, founder) {
		return fmt.Errorf("state: bulk load: the founder given to PutPerson is not the person's founder")
	}
	return b.put(bulkStream{'p', team}, "", personKey(make([]byte, 0, 24+len(team)), team, p.ID), encodePersonValue(&p, personMeta{founder: founder}))
}

func (b *BulkLoader) put(st bulkStream, did string, k, v []byte) error {
	if b.err != nil {
		return b.err
	}
	if err := checkWrite(k, v); err != nil {
		return wrapKey(err, k)
	}
	if st != b.cur || b.id == 0 {
		if b.done[st] {
			return fmt.Errorf("state: bulk load: %c/ records of a team resumed after another stream began: %w", st.tag, ErrUnsorted)
		}
		if b.id != 0 {
			if err := b.endStream(); err != nil {
				return err
			}
		}
		b.cur = st
		b.id++
	}
	// Within a stream every key has the same prefix up to its sorted part,
	// so key order is the documented order.
	if last := b.last[st]; last != nil && bytes.Compare(k, last) <= 0 {
		_ = did // ids are personal data: the error does not name them
		return fmt.Errorf("state: bulk load: %c/ records of a team not in ascending order, or repeated: %w", st.tag, ErrUnsorted)
	}
	b.last[st] = k
	b.n++
	if b.sw == nil {
		b.mem = append(b.mem, [2][]byte{k, v})
		if len(b.mem) >= memLoadBatch {
			return b.flushMem()
		}
		return nil
	}
	badger.KVToBuffer(&pb.KV{Key: k, Value: v, Version: 1, StreamId: b.id}, b.buf)
	if b.buf.LenNoPadding() >= bulkBufBytes {
		return b.write()
	}
	return nil
}

// endStream marks the current stream done, so Badger finishes its tables
// and only one stream's table builder is alive at a time.
func (b *BulkLoader) endStream() error {
	b.done[b.cur] = true
	delete(b.last, b.cur)
	if b.sw == nil {
		return nil
	}
	badger.KVToBuffer(&pb.KV{StreamId: b.id, StreamDone: true}, b.buf)
	return b.write()
}

func (b *BulkLoader) write() error {
	if err := b.sw.Write(b.buf); err != nil {
		b.err = fmt.Errorf("state: bulk load: %w", err)
		return b.err
	}
	b.buf.Reset()
	return nil
}

func (b *BulkLoader) flushMem() error {
	batch := b.mem
	b.mem = nil
	err := b.s.eng.update(func(w kvWriter) error {
		for _, kv := range batch {
			if err := w.set(kv[0], kv[1]); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.err = fmt.Errorf("state: bulk load: %w", err)
	}
	return b.err
}

// finish writes what is buffered and makes it durable.
func (b *BulkLoader) finish() error {
	if b.err != nil {
		return b.err
	}
	if b.sw == nil {
		return b.flushMem()
	}
	if b.id != 0 {
		if err := b.endStream(); err != nil {
			return err
		}
	}
	if err := b.sw.Flush(); err != nil {
		b.err = fmt.Errorf("state: bulk load: %w", err)
		return b.err
	}
	return nil
}

// memLoadBatch is the most pending writes of a BulkLoader on a Memory
// store.
const memLoadBatch = 4096

// Compact rewrites the store's tables into the fewest levels, as a long
// run of compactions would leave them (Badger's Flatten): after a bulk
// load, it makes the disk size per id and the cold reads those of a
// settled replica. It compacts the tables only: what is still in Badger's
// memtables stays there (Close flushes them; reopen, then Compact). A Memory
// store has nothing to compact.
func (s *Store) Compact() error {
	if s.closed.Load() {
		return ErrClosed
	}
	if s.db == nil {
		return nil
	}
	s.maint.Lock()
	defer s.maint.Unlock()
	if err := s.db.Flatten(2); err != nil {
		return fmt.Errorf("state: compact %s: %w", s.dir, err)
	}
	return nil
}

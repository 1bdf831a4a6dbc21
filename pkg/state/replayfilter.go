package state

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"slices"
)

// The replay filter (Store.SetReplayFilter) spares a replay the reads that
// it can know the answer of. A replay (stream.Rebuild) starts from an empty
// state, so most of what its ops read was never written: the mapping of an
// id the log has not reached yet, the refs (r/) and absorbed tombstones
// (t/) of a person that never had any. Those reads are not free in Badger:
// a missing key searches every memtable's skiplist, and a prefix scan seeks
// every memtable, every level-0 table and one table per level, so they grow
// with the state — and during a replay the level-0 tables pile up. It
// keeps:
//
//   - A Bloom filter of what was written: every d/ key, and the prefix of
//     every person set (m/, r/, t/ of one person) a key was put under.
//     Enabling the filter adds what is stored already; from then on,
//     PutMapping, PutMember, PutRef and PutAbsorbed add theirs before
//     writing. A key or set the filter rules out was never written — not
//     in the committed state, the commit in flight (pipelined.go) or the
//     transaction — so Update's transaction answers "absent" or "empty"
//     without reading. The filter only ever grows: a transaction that
//     fails leaves its additions in, a false positive, which costs a read
//     and nothing else.
//   - The member lists of persons whose m/ set the filter saw start empty:
//     complete lists, kept up to date by PutMember and DeleteMember as
//     they write, so a merge that absorbs a person made since the filter
//     was enabled (the common case: an anonymous id and the user it is
//     identified as are usually new together) reads its members without a
//     scan. Unlike the Bloom filter, a list must never hold a write that
//     did not commit: every failed Update (and a failed pipelined commit)
//     drops all the lists. They are bounded (maxListedMembers per person,
//     maxMemberListBytes in all); a person over the bound is dropped and
//     scanned as before.
//
// It is used only by Update's transactions, under the Store's writer lock,
// so it needs no lock of its own; views and Find never read it. Results are
// the same with it on or off (the conformance, determinism and model tests
// run with it on).
//
// The Bloom filter's size is fixed: replayFilterBits bits (32 MiB) and
// replayFilterProbes probes per item. A replayed op adds about 3 items
// (two ids and a person), so false positives are 0.1% after 3M ops, 1.7%
// after 10M and 12% after 20M; past that the reads it lets through cost
// what they cost without it.
type replayFilter struct {
	seed maphash.Seed
	bits []uint64

	members     map[string][]string // m/ prefix → distinct_ids in byte order
	memberBytes int64               // approximate bytes of members
}

const (
	replayFilterBits   = 1 << 28
	replayFilterProbes = 4

	maxListedMembers   = 64
	maxMemberListBytes = 64 << 20
	memberListOverhead = 64 // map entry and slice header, roughly
)

func newReplayFilter() *replayFilter {
	return &replayFilter{
		seed:    maphash.MakeSeed(),
		bits:    make([]uint64, replayFilterBits/64),
		members: map[string][]string{},
	}
}

// probes calls fn with the bit index of each probe of item (double
// hashing: h1 + i·h2, Kirsch and Mitzenmacher), until fn returns false.
func (f *replayFilter) probes(item []byte, fn func(i uint32) bool) {
	h := maphash.Bytes(f.seed, item)
	h1, h2 := uint32(h), uint32(h>>32)|1
	for i := range uint32(replayFilterProbes) {
		if !fn((h1 + i*h2) % replayFilterBits) {
			return
		}
	}
}

func (f *replayFilter) add(item []byte) {
	f.probes(item, func(i uint32) bool {
		f.bits[i/64] |= 1 << (i % 64)
		return true
	})
}

// mayHave reports whether item may have been added; false is certain.
func (f *replayFilter) mayHave(item []byte) bool {
	all := true
	f.probes(item, func(i uint32) bool {
		all = f.bits[i/64]&(1<<(i%64)) != 0
		return all
	})
	return all
}

// putMember records member did of the set with m/ prefix: it extends the
// set's list, or starts one if the set was never written.
func (f *replayFilter) putMember(prefix []byte, did string) {
	list, listed := f.members[string(prefix)]
	switch {
	case listed:
		i, found := slices.BinarySearch(list, did)
		if found {
			return
		}
		if len(list) >= maxListedMembers {
			f.unlist(prefix)
			return
		}
		f.members[string(prefix)] = slices.Insert(list, i, did)
		f.memberBytes += int64(len(did)) + 16
	case !f.mayHave(prefix):
		if f.memberBytes >= maxMemberListBytes {
			f.evict()
		}
		f.members[string(prefix)] = []string{did}
		f.memberBytes += memberListOverhead + int64(len(prefix)) + int64(len(did)) + 16
	}
	f.add(prefix)
}

// deleteMember removes did from the set's list, if the set is listed.
func (f *replayFilter) deleteMember(prefix []byte, did string) {
	list, listed := f.members[string(prefix)]
	if !listed {
		return
	}
	if i, found := slices.BinarySearch(list, did); found {
		f.members[string(prefix)] = slices.Delete(list, i, i+1)
		f.memberBytes -= int64(len(did)) + 16
	}
}

func (f *replayFilter) unlist(prefix []byte) {
	list := f.members[string(prefix)]
	for _, did := range list {
		f.memberBytes -= int64(len(did)) + 16
	}
	f.memberBytes -= memberListOverhead + int64(len(prefix))
	delete(f.members, string(prefix))
}

// evict drops about an eighth of the lists (map order: arbitrary ones).
func (f *replayFilter) evict() {
	n := len(f.members)/8 + 1
	for p := range f.members {
		if n == 0 {
			return
		}
		f.unlist([]byte(p))
		n--
	}
}

// dropLists forgets every member list: after a failed Update, whose
// writes they may hold.
func (f *replayFilter) dropLists() {
	clear(f.members)
	f.memberBytes = 0
}

// setPrefixOf returns the person-set prefix of an m/, r/ or t/ key: tag,
// str(team) and the 16 bytes of the person id.
func setPrefixOf(key, tag []byte) ([]byte, error) {
	r := newKeyReader(key, tag)
	r.str()
	if !r.ok || len(r.b) < 16 {
		return nil, wrapKey(corrupt("person set key", "bad key"), key)
	}
	return key[:len(key)-len(r.b)+16], nil
}

// filteredSet reports whether prefix is a person set (m/, r/, t/), which
// the replay filter covers.
func filteredSet(prefix []byte) bool {
	return bytes.HasPrefix(prefix, tagMember) || bytes.HasPrefix(prefix, tagRef) || bytes.HasPrefix(prefix, tagAbsorbed)
}

// SetReplayFilter turns the replay filter (above) on or off for Update's
// transactions. Turning it on reads every d/, m/, r/ and t/ key stored,
// once: it is for a replay into an empty state (stream.Rebuild), where
// there are none, and costs 32 MiB and up to 64 MiB of member lists while
// on. BulkLoad turns it off. Results are the same with it on or off.
func (s *Store) SetReplayFilter(on bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed.Load() {
		return ErrClosed
	}
	if !on {
		s.filter = nil
		return nil
	}
	if s.filter != nil {
		return nil
	}
	f := newReplayFilter()
	err := s.eng.view(func(r kvReader) error {
		if err := r.scan(tagMapping, nil, true, func(key, _ []byte) (bool, error) {
			f.add(key)
			return true, nil
		}); err != nil {
			return err
		}
		for _, tag := range [][]byte{tagMember, tagRef, tagAbsorbed} {
			err := r.scan(tag, nil, true, func(key, _ []byte) (bool, error) {
				p, err := setPrefixOf(key, tag)
				if err != nil {
					return false, err
				}
				f.add(p)
				return true, nil
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("state: replay filter: %w", err)
	}
	s.filter = f
	return nil
}

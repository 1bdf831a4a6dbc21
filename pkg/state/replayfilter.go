package state

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"hash/maphash"
	"slices"
)

// The replay filter (Store.SetReplayFilter) spares a replay the reads that
// it can know the answer of. A replay (stream.Rebuild) starts from an empty
// state, so most of what its ops read was never written: the mapping of an
// id the log has not reached yet, the record of a data key no op has
// sealed with, the lineage row of a new op, the members, refs (r/) and
// absorbed tombstones (t/) of a person that never had any. Those reads are
// not free in Badger: a missing key searches every memtable's skiplist,
// and a prefix scan seeks every memtable, every level-0 table and one
// table per level, so they grow with the state — and during a replay the
// level-0 tables pile up. It keeps:
//
//   - A Bloom filter of what was written: every d/, k/ and l/ key, and the
//     prefix of every person set (m/, r/, t/ of one person) a key was put
//     under. Enabling the filter adds what is stored already; from then
//     on, PutMapping, PutKey, PutLineage, PutMember, PutRef and
//     PutAbsorbed add theirs before writing. A key or set the filter rules
//     out was never written — not in the committed state, the commit in
//     flight (pipelined.go) or the transaction — so Update's transaction
//     answers "absent" or "empty" without reading. The filter only ever
//     grows: a transaction that fails leaves its additions in, a false
//     positive, which costs a read and nothing else.
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
// The Bloom filter's size is fixed: replayFilterBits bits (64 MiB) and
// replayFilterProbes probes per item. A replayed op adds about 4 items
// (two ids, a person, a lineage row); measured false positives: 0.004%
// at 10M items (2.5M ops), 0.5% at 40M (10M ops), 8% at 100M and 36% at
// 200M; past that the reads it lets through cost what they cost without
// it.
type replayFilter struct {
	seed maphash.Seed
	bits []uint64

	members     map[string][]string // m/ prefix → distinct_ids in byte order
	memberBytes int64               // approximate bytes of members
	maxBytes    int64               // bound of memberBytes: maxMemberListBytes
}

const (
	replayFilterBits   = 1 << 29
	replayFilterProbes = 4

	maxListedMembers   = 64
	maxMemberListBytes = 64 << 20
	memberListOverhead = 64 // map entry and slice header, roughly
)

func newReplayFilter() *replayFilter {
	return &replayFilter{
		seed:     maphash.MakeSeed(),
		bits:     make([]uint64, replayFilterBits/64),
		members:  map[string][]string{},
		maxBytes: maxMemberListBytes,
	}
}

// probes calls fn with the bit index of each probe of item, until fn
// returns false. The filter is blocked (Putze, Sanders and Singler): all
// of an item's probes fall in one 512-bit block, one cache line, chosen by
// the hash's low bits, at positions taken 9 bits each from its high bits;
// so a check costs one cache miss, not one per probe.
func (f *replayFilter) probes(item []byte, fn func(i uint32) bool) {
	h := maphash.Bytes(f.seed, item)
	block := uint32(h%(replayFilterBits/512)) * 512
	for i := range replayFilterProbes {
		if !fn(block + uint32(h>>(64-9*(i+1)))&511) {
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
		if f.memberBytes > f.maxBytes { // lists grow too, not only new ones
			f.evict()
		}
	case !f.mayHave(prefix):
		if f.memberBytes >= f.maxBytes {
			f.evict()
		}
		f.members[string(prefix)] = []string{did}
		f.memberBytes += memberListOverhead + int64(len(prefix)) + int64(len(did)) + 16
	}
	f.add(prefix)
}

// hasMember reports whether did is in the set with m/ prefix, if the set
// is listed (its list is complete); listed is false otherwise.
func (f *replayFilter) hasMember(prefix []byte, did string) (has, listed bool) {
	list, listed := f.members[string(prefix)]
	if !listed {
		return false, false
	}
	_, has = slices.BinarySearch(list, did)
	return has, true
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

// setPrefixLen is the length of a person-set prefix of team: a two-byte
// tag, str(team) and the person id.
func setPrefixLen(team string) int {
	var b [binary.MaxVarintLen64]byte
	return 2 + binary.PutUvarint(b[:], uint64(len(team))) + len(team) + 16
}

// filteredSet reports whether prefix is a person set (m/, r/, t/), which
// the replay filter covers.
func filteredSet(prefix []byte) bool {
	return bytes.HasPrefix(prefix, tagMember) || bytes.HasPrefix(prefix, tagRef) || bytes.HasPrefix(prefix, tagAbsorbed)
}

// SetReplayFilter turns the replay filter (above) on or off for Update's
// transactions. Turning it on reads every d/, k/, l/, m/, r/ and t/ key
// stored, once: it is for a replay into an empty state (stream.Rebuild),
// where there are none, and costs 64 MiB and up to 64 MiB of member lists
// while on. BulkLoad turns it off. Results are the same with it on or off.
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
		for _, tag := range [][]byte{tagMapping, tagKey, tagLineage, tagMember, tagRef, tagAbsorbed} {
			set := filteredSet(tag) // the filter holds a person set's prefix, not its keys
			err := r.scan(tag, nil, true, func(key, _ []byte) (bool, error) {
				if set {
					p, err := setPrefixOf(key, tag)
					if err != nil {
						return false, err
					}
					key = p
				}
				f.add(key)
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

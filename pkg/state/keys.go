package state

import (
	"encoding/binary"
	"unsafe"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// This file is the one place that knows the key layout. Every key starts
// with a short ASCII tag; the parts after it are encoded so that keys sort
// deterministically and two different tuples can never give the same key:
//
//   - strings in the middle of a key (team, topic, month) are length-prefixed
//     with a uvarint: str(s) = uvarint(len(s)) ‖ s;
//   - a string that ends a key (distinct_id, billing class) is written raw:
//     everything before it is self-delimiting, so it cannot collide, and
//     raw bytes make ordered iteration follow the string's byte order;
//   - person ids are their 16 raw UUID bytes;
//   - int32 and int64 are big-endian with the sign bit flipped
//     (i32(v) = uint32(v) ^ 1<<31), so byte order is numeric order;
//     uint32 is plain big-endian.
//
// The "/" below separates parts for reading only; it is written just once,
// as the second byte of each tag.
//
//	key                                              value
//	d/ str(team) distinct_id                         Mapping (codec.go): person id (left out when it is the id's implicit person), version, deleted, blocked, gen, held, fresh
//	k/ str(team) str(distinct_id) u32(gen)           KeyState (codec.go): holders, erased — one data key's record
//	m/ str(team) person(16) distinct_id              empty: membership, iterated by Members in distinct_id order; not for the person's founder (founder.go)
//	p/ str(team) person(16)                          Person (codec.go): created_at, flags, version, size, properties (the id is the key's), the founder if a member
//	r/ str(team) person(16) str(distinct_id) u32(gen)  empty: the person holds a ref to data key (distinct_id, gen)
//	t/ str(team) person(16) person(16)               empty: the second person's tombstone was absorbed into the first
//	a/ i32(log partition)                            i64: next identity_log offset to apply
//	o/ i32(log partition) str(topic) i32(partition)  i64 offset ‖ u32 index: highest applied unionfind.Source
//	x/ str(topic) i32(partition) i64(offset) u32(index)  Result (codec.go): the feed rows one op produced, or a batch of a partition's (outbox.go)
//	b/ str(team) str(month) class                    i64: billing total of (team, month, class)
//	b@/ i32(billing_usage partition)                 i64: next billing_usage offset to fold
//	l/ str(team) i32(log partition) i64(offset) u32(index)  MergeRow (lineage.go): one lineage row
//	h/ str(team) kind …  pos                         lineage index (lineage.go): per id (per person: older stores only)
//	u/                                               i64 unix ms: sorted commits began (SetSortedCommits); Open refuses the store
//	v/flush                                          empty, never stays: written and dropped to flush Badger's memtables (deferredindex.go)
//
// The identity state that Fingerprint hashes is exactly the d/, k/, m/,
// p/, r/ and t/ keys (docs/SEMANTICS.md §8: the key refs and records are
// what makes a rebuild after an erasure equal to the live replicas, so they
// are identity state). Tags sort d/ < k/ < m/ < p/ < r/ < t/, so one
// ordered pass over the six prefixes visits identity keys in key order.
//
// Lengths in str() are uvarints, so within a tag keys sort by the
// length-prefix bytes first (for strings under 128 bytes: shorter team
// first, then bytewise). Only determinism is relied upon, never a
// particular order of teams.
var (
	tagMapping   = []byte("d/")
	tagKey       = []byte("k/")
	tagMember    = []byte("m/")
	tagPerson    = []byte("p/")
	tagRef       = []byte("r/")
	tagAbsorbed  = []byte("t/")
	tagApplied   = []byte("a/")
	tagHighWater = []byte("o/")
	tagOutbox    = []byte("x/")
	tagBilling   = []byte("b/")
	tagBillOff   = []byte("b@/")
	// unfinishedKey is the one key of its tag: sorted commits (SetSortedCommits,
	// pipelined.go) are on, or were when the process stopped.
	unfinishedKey = []byte("u/")
)

// identityTags are the prefixes that make up the identity state, in key
// order.
var identityTags = [][]byte{tagMapping, tagKey, tagMember, tagPerson, tagRef, tagAbsorbed}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

func appendI32(b []byte, v int32) []byte {
	return binary.BigEndian.AppendUint32(b, uint32(v)^1<<31)
}

func appendI64(b []byte, v int64) []byte {
	return binary.BigEndian.AppendUint64(b, uint64(v)^1<<63)
}

// mappingKey is d/ str(team) distinct_id.
func mappingKey(b []byte, team, distinctID string) []byte {
	b = append(b, tagMapping...)
	b = appendStr(b, team)
	return append(b, distinctID...)
}

// memberPrefix is m/ str(team) person: the prefix of one person's members.
func memberPrefix(b []byte, team string, id unionfind.PersonID) []byte {
	b = append(b, tagMember...)
	b = appendStr(b, team)
	return append(b, id[:]...)
}

// memberKey is m/ str(team) person distinct_id.
func memberKey(b []byte, team string, id unionfind.PersonID, distinctID string) []byte {
	return append(memberPrefix(b, team, id), distinctID...)
}

// personKey is p/ str(team) person.
func personKey(b []byte, team string, id unionfind.PersonID) []byte {
	b = append(b, tagPerson...)
	b = appendStr(b, team)
	return append(b, id[:]...)
}

// dataKeyKey is k/ str(team) str(distinct_id) u32(gen).
func dataKeyKey(b []byte, team string, k unionfind.KeyRef) []byte {
	b = append(b, tagKey...)
	b = appendStr(b, team)
	b = appendStr(b, k.DistinctID)
	return binary.BigEndian.AppendUint32(b, k.Gen)
}

// refPrefix is r/ str(team) person: the prefix of one person's refs.
func refPrefix(b []byte, team string, id unionfind.PersonID) []byte {
	b = append(b, tagRef...)
	b = appendStr(b, team)
	return append(b, id[:]...)
}

// refKey is r/ str(team) person str(distinct_id) u32(gen).
func refKey(b []byte, team string, id unionfind.PersonID, k unionfind.KeyRef) []byte {
	b = appendStr(refPrefix(b, team, id), k.DistinctID)
	return binary.BigEndian.AppendUint32(b, k.Gen)
}

// absorbedPrefix is t/ str(team) person: the prefix of one person's
// absorbed tombstones.
func absorbedPrefix(b []byte, team string, id unionfind.PersonID) []byte {
	b = append(b, tagAbsorbed...)
	b = appendStr(b, team)
	return append(b, id[:]...)
}

// absorbedKey is t/ str(team) person absorbed.
func absorbedKey(b []byte, team string, id, absorbed unionfind.PersonID) []byte {
	return append(absorbedPrefix(b, team, id), absorbed[:]...)
}

// appliedKey is a/ i32(log partition).
func appliedKey(b []byte, logPartition int32) []byte {
	return appendI32(append(b, tagApplied...), logPartition)
}

// highWaterKey is o/ i32(log partition) str(topic) i32(source partition).
func highWaterKey(b []byte, logPartition int32, topic string, srcPartition int32) []byte {
	b = appendI32(append(b, tagHighWater...), logPartition)
	b = appendStr(b, topic)
	return appendI32(b, srcPartition)
}

// outboxPrefix is x/ str(topic) i32(partition): one source partition's rows.
func outboxPrefix(b []byte, topic string, partition int32) []byte {
	b = append(b, tagOutbox...)
	b = appendStr(b, topic)
	return appendI32(b, partition)
}

// outboxKey is x/ str(topic) i32(partition) i64(offset) u32(index).
func outboxKey(b []byte, src unionfind.Source) []byte {
	b = outboxPrefix(b, src.Topic, src.Partition)
	b = appendI64(b, src.Offset)
	return binary.BigEndian.AppendUint32(b, src.Index)
}

// billingKey is b/ str(team) str(month) class.
func billingKey(b []byte, team, month, class string) []byte {
	b = append(b, tagBilling...)
	b = appendStr(b, team)
	b = appendStr(b, month)
	return append(b, class...)
}

// billingOffsetKey is b@/ i32(partition).
func billingOffsetKey(b []byte, partition int32) []byte {
	return appendI32(append(b, tagBillOff...), partition)
}

// keyReader takes a key apart, remembering the first failure.
type keyReader struct {
	b  []byte
	ok bool
}

func newKeyReader(key, tag []byte) keyReader {
	if len(key) < len(tag) || string(key[:len(tag)]) != string(tag) {
		return keyReader{}
	}
	return keyReader{b: key[len(tag):], ok: true}
}

func (r *keyReader) str() string {
	if !r.ok {
		return ""
	}
	n, k := binary.Uvarint(r.b)
	if k <= 0 || uint64(len(r.b)-k) < n {
		r.ok = false
		return ""
	}
	s := string(r.b[k : k+int(n)])
	r.b = r.b[k+int(n):]
	return s
}

func (r *keyReader) i32() int32 {
	if !r.ok || len(r.b) < 4 {
		r.ok = false
		return 0
	}
	v := int32(binary.BigEndian.Uint32(r.b) ^ 1<<31)
	r.b = r.b[4:]
	return v
}

func (r *keyReader) i64() int64 {
	if !r.ok || len(r.b) < 8 {
		r.ok = false
		return 0
	}
	v := int64(binary.BigEndian.Uint64(r.b) ^ 1<<63)
	r.b = r.b[8:]
	return v
}

func (r *keyReader) u32() uint32 {
	if !r.ok || len(r.b) < 4 {
		r.ok = false
		return 0
	}
	v := binary.BigEndian.Uint32(r.b)
	r.b = r.b[4:]
	return v
}

// rest returns the raw remainder (a key's last part).
func (r *keyReader) rest() string {
	if !r.ok {
		return ""
	}
	s := string(r.b)
	r.b = nil
	return s
}

// done reports whether the key parsed and nothing is left over.
func (r *keyReader) done() bool { return r.ok && len(r.b) == 0 }

// mappingKeyIDs returns the team and distinct_id of a mapping key, as
// strings that share key's bytes: use them only while key is unchanged
// (to decode its value, say).
func mappingKeyIDs(key []byte) (team, distinctID string, ok bool) {
	if !hasTag(key, tagMapping) {
		return "", "", false
	}
	b := key[len(tagMapping):]
	n, k := binary.Uvarint(b)
	if k <= 0 || uint64(len(b)-k) < n {
		return "", "", false
	}
	return unsafe.String(unsafe.SliceData(b[k:]), int(n)), unsafe.String(unsafe.SliceData(b[k+int(n):]), len(b)-k-int(n)), true
}

// personKeyID returns the person of a p/ key.
func personKeyID(key []byte) (id unionfind.PersonID, ok bool) {
	if !hasTag(key, tagPerson) {
		return id, false
	}
	b := key[len(tagPerson):]
	n, k := binary.Uvarint(b)
	if k <= 0 || n > uint64(len(b)-k) || uint64(len(b)-k)-n != uint64(len(id)) {
		return id, false
	}
	copy(id[:], b[k+int(n):])
	return id, true
}

package state

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/google/uuid"

	"github.com/resolver-dev/resolver/internal/jsonlit"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// Lineage (docs/SEMANTICS.md §8): the applier stores every
// unionfind.MergeRow of an op with Tx.PutLineage, in the transaction that
// applies the op. Each row is kept once, under its identity_log position,
// and reached three ways so that the queries below read only what they
// need:
//
//	l/ str(team) i32(log partition) i64(log offset) u32(index in op)   MergeRow v3 (v2 before 2026-12-08, v1 before 2026-12-07)
//	h/ str(team) 'm' str(distinct_id) pos                               hist: a row that moved the id
//	h/ str(team) 'r' str(distinct_id) pos                               hist: a refused row naming the id (Other or Into)
//	a person's chain (see "Lineage chains")                             the rows that moved ids into (survivor) or out of (absorbed) the person
//
// Before 2026-12-08 the person's rows were indexed too, under
//
//	h/ str(team) 'p' person(16) pos
//
// which older replicas still hold and growth still reads.
//
// where pos = i32(log partition) i64(log offset) u32(index), so each index
// iterates in log order (a team's ops are in one identity_log partition,
// docs/DESIGN.md; should a team ever move to another partition, its rows
// would order by partition number first), and
//
//	hist = rule(1) ‖ role(1) ‖ survivor(16) ‖ absorbed(16) ‖ varint log time
//
// except that under a person's key the value leaves that person out
// (appendHist).
//
// The index values carry what the history queries need (who, when), so
// AsOf never decodes a whole row.
//
// Lineage is derived from the ops: it is not part of Fingerprint, but it is
// deterministic (the same ops give the same keys and values on every
// replica). Rows are bounded: the ids a merge moves are at most
// identity.max_merge_move (10,000) ids of at most 200 characters; a
// deletion moves all of a person's ids, so the l/ value keeps the first
// MaxLineageMovedKept of them and the total (every moved id is still
// indexed under h/ … 'm').

// MaxLineageMovedKept is how many moved distinct_ids a stored lineage row
// keeps (the first ones, in the row's sorted order); the row also keeps
// how many moved in all. It equals the default identity.max_merge_move,
// so only the deletion of a larger person is cut.
const MaxLineageMovedKept = 10_000

// maxLineageString bounds every string of a lineage row (team, ids, event
// uuid, refusal, source topic) before it becomes a key or value. Stored
// ids are at most 200 characters (800 bytes of UTF-8).
const maxLineageString = 1024

// Caps of the query views: the steps of one list (the newest are kept),
// the moved ids shown per step, and how much a path search reads.
const (
	maxViewSteps     = 500
	maxViewMoved     = 100
	maxPathMembers   = 10_000
	maxPathRefusals  = 100_000
	maxRefusalsShown = 50
)

var tagLineage = []byte("l/")
var tagHistory = []byte("h/")

// History kinds (the byte after str(team) in h/ keys) and roles.
const (
	histMoved   = 'm'
	histRefused = 'r'
	histPerson  = 'p'

	roleMoved    = 1 // h/ 'm'
	roleNamed    = 2 // h/ 'r'
	roleSurvivor = 3 // h/ 'p': ids moved into the person
	roleAbsorbed = 4 // h/ 'p': ids moved out of it
)

const histValueLen = 1 + 1 + 16 + 16

// lpos is a lineage row's position: identity_log partition and offset and
// the row's index among the op's rows.
type lpos struct {
	part  int32
	off   int64
	index uint32
}

func (p lpos) cmp(q lpos) int {
	switch {
	case p.part != q.part:
		return cmpInt(p.part, q.part)
	case p.off != q.off:
		return cmpInt(p.off, q.off)
	default:
		return cmpInt(p.index, q.index)
	}
}

func cmpInt[T int32 | int64 | uint32](a, b T) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func appendPos(b []byte, p lpos) []byte {
	b = appendI32(b, p.part)
	b = appendI64(b, p.off)
	return binary.BigEndian.AppendUint32(b, p.index)
}

const posLen = 4 + 8 + 4

func readPos(b []byte) (lpos, bool) {
	if len(b) != posLen {
		return lpos{}, false
	}
	r := keyReader{b: b, ok: true}
	p := lpos{part: r.i32(), off: r.i64(), index: r.u32()}
	return p, r.done()
}

// lineageOpPrefix is l/ str(team) i32(partition) i64(offset): one op's rows.
func lineageOpPrefix(b []byte, team string, part int32, off int64) []byte {
	b = append(b, tagLineage...)
	b = appendStr(b, team)
	b = appendI32(b, part)
	return appendI64(b, off)
}

// lineageKey is l/ str(team) pos.
func lineageKey(b []byte, team string, p lpos) []byte {
	b = lineageOpPrefix(b, team, p.part, p.off)
	return binary.BigEndian.AppendUint32(b, p.index)
}

// parseLineageKey takes an l/ key apart.
func parseLineageKey(k []byte) (team string, p lpos, ok bool) {
	r := newKeyReader(k, tagLineage)
	team = r.str()
	p = lpos{part: r.i32(), off: r.i64(), index: r.u32()}
	return team, p, r.done()
}

// histIDPrefix is h/ str(team) kind str(distinct_id).
func histIDPrefix(b []byte, team string, kind byte, did string) []byte {
	b = append(b, tagHistory...)
	b = appendStr(b, team)
	b = append(b, kind)
	return appendStr(b, did)
}

// histPersonPrefix is h/ str(team) 'p' person(16).
func histPersonPrefix(b []byte, team string, id unionfind.PersonID) []byte {
	b = append(b, tagHistory...)
	b = appendStr(b, team)
	b = append(b, histPerson)
	return append(b, id[:]...)
}

// histEntry is one decoded h/ entry.
type histEntry struct {
	pos                lpos
	rule               unionfind.Rule
	role               byte
	survivor, absorbed unionfind.PersonID
	time               int64
}

// h/ values:
//
//	long:  rule(1) ‖ role(1) ‖ survivor(16) ‖ absorbed(16) ‖ varint log time
//	short: rule(1) ‖ role(1) ‖ other person(16) ‖ varint log time
//
// An entry under a distinct_id ('m', 'r' keys) is long. One under a person
// ('p' keys) is short since 2026-12-07: the key's person is the survivor
// (roleSurvivor) or the absorbed (roleAbsorbed), so the value keeps only
// the other one; older replicas hold long ones there, and both are read.
// Their lengths tell them apart (long ≥ 35 bytes, short ≤ 28).
func appendHist(b []byte, row *unionfind.MergeRow, role byte) []byte {
	b = append(b, byte(row.Rule), role)
	switch role {
	case roleSurvivor:
		b = append(b, row.Absorbed[:]...)
	case roleAbsorbed:
		b = append(b, row.Survivor[:]...)
	default:
		b = append(b, row.Survivor[:]...)
		b = append(b, row.Absorbed[:]...)
	}
	return binary.AppendVarint(b, row.Log.Time)
}

// decodeHist reads an h/ value at position p. keyPerson is the person of
// a 'p' key (nil for a distinct_id's), which a short value leaves out.
func decodeHist(p lpos, v []byte, keyPerson *unionfind.PersonID) (histEntry, error) {
	if len(v) < 2 {
		return histEntry{}, corrupt("lineage index", "truncated")
	}
	e := histEntry{pos: p, rule: unionfind.Rule(v[0]), role: v[1]}
	var rest []byte
	switch {
	case len(v) > histValueLen:
		copy(e.survivor[:], v[2:18])
		copy(e.absorbed[:], v[18:34])
		rest = v[histValueLen:]
	case keyPerson == nil || len(v) <= 2+16:
		return histEntry{}, corrupt("lineage index", "truncated")
	case e.role == roleSurvivor:
		e.survivor = *keyPerson
		copy(e.absorbed[:], v[2:18])
		rest = v[18:]
	case e.role == roleAbsorbed:
		e.absorbed = *keyPerson
		copy(e.survivor[:], v[2:18])
		rest = v[18:]
	default:
		return histEntry{}, corrupt("lineage index", "short value of a role without a person key")
	}
	t, n := binary.Varint(rest)
	if n <= 0 || n != len(rest) || overlong(rest, n) {
		return histEntry{}, corrupt("lineage index", "bad time")
	}
	e.time = t
	return e, nil
}

// Lineage row encoding (l/ values). Rows written before 2026-12-07 are v1,
// those until 2026-12-08 v2, those since v3 (v2 with the links of
// "Lineage chains" after its version byte); all are read.
//
//	MergeRow v1: 0x01 ‖ rule(1) ‖ survivor(16) ‖ absorbed(16) ‖ bytes team ‖
//	             bytes refused ‖ bytes other ‖ bytes into ‖ bytes event_uuid ‖
//	             varint timestamp ‖ bytes source topic ‖ varint source partition ‖
//	             varint source offset ‖ uvarint source index ‖ varint log partition ‖
//	             varint log offset ‖ varint log time ‖ uvarint moved total ‖
//	             uvarint n ‖ n × bytes distinct_id     (n = min(total, MaxLineageMovedKept))
//	MergeRow v2: 0x02 ‖ flags(1) ‖ rule(1) ‖ survivor(16) ‖ absorbed(16) ‖
//	             bytes refused ‖ bytes other ‖ bytes into ‖ event_uuid ‖
//	             varint timestamp ‖ bytes source topic ‖ varint source partition ‖
//	             varint source offset ‖ uvarint source index ‖ varint log time ‖ moved
//
// v2 leaves out what the key holds (the team, the log partition and
// offset: l/ str(team) pos), writes a canonical event UUID (lowercase,
// hyphenated: what pkg/event stamps) as its 16 bytes (flag lineageUUID;
// any other string as bytes event_uuid), and writes nothing for moved when
// the one id moved is the request's other or into (flags lineageMovedOther,
// lineageMovedInto); else moved is uvarint total ‖ uvarint n ‖ n × bytes
// distinct_id as in v1. Each row has one v2 encoding (and one v3 body):
// the decoder refuses a value that leaves a flag unset where it applies,
// so equal rows are equal bytes on every replica.
const (
	lineageUUID       = 1 << 0
	lineageMovedOther = 1 << 1
	lineageMovedInto  = 1 << 2
	lineageFlags      = lineageUUID | lineageMovedOther | lineageMovedInto
)

// appendMergeBody appends what follows the version byte in a v2 value
// (flags and fields), and in a v3 value what follows its links.
func appendMergeBody(b []byte, row *unionfind.MergeRow) []byte {
	var flags byte
	eventUUID, canonical := parseCanonicalUUID(row.EventUUID)
	if canonical {
		flags |= lineageUUID
	}
	flags |= movedFlag(row)
	b = append(b, flags, byte(row.Rule))
	b = append(b, row.Survivor[:]...)
	b = append(b, row.Absorbed[:]...)
	b = appendBytes(b, row.Refused)
	b = appendBytes(b, row.Other)
	b = appendBytes(b, row.Into)
	if canonical {
		b = append(b, eventUUID[:]...)
	} else {
		b = appendBytes(b, row.EventUUID)
	}
	b = appendSource(binary.AppendVarint(b, row.Timestamp), row.Source)
	b = binary.AppendVarint(b, row.Log.Time)
	if flags&(lineageMovedOther|lineageMovedInto) != 0 {
		return b
	}
	return appendMoved(b, row.Moved)
}

// mergeBody returns what follows a v2 value's version byte, or the links
// of a v3 value at position at: the same bytes for the same row, whichever
// wrote it. ok is false for other versions and malformed links.
func mergeBody(v []byte, at lpos) (body []byte, ok bool) {
	switch {
	case len(v) > 0 && v[0] == codecV2:
		return v[1:], true
	case len(v) > 0 && v[0] == codecV3:
		d := decoder{b: v[1:]}
		readLinks(&d, at)
		return d.b, d.err == nil
	}
	return nil, false
}

// Lineage chains (since 2026-12-08, l/ v3). A person's history — the rows
// that moved ids into it (survivor), split ids out of it, or ended it
// (absorbed whole, deleted) — is a chain: its p/ value holds the position
// of the newest such row (personMeta.head), and each v3 row holds, for
// its survivor and its absorbed person, the position of the row before it
// in that person's chain (its links). The person index rows (h/ … 'p') of
// before are no longer written: they were two of the three index rows of
// most merges (BENCHMARKS.md, target 1), while the p/ values a row's
// persons hold are written by the op anyway. A chain's first row links to
// nothing; what came before it is in the h/ rows of an older replica
// (growth reads both).
//
// A row links a person only when the op wrote the person's value (every
// survivor, every split person, every tombstone); the one person it does
// not write — the implicit person of an id that an identify or alias
// moves — has no value to hold a head, and nothing asks for its history:
// should the id's person be made again, its chain starts afresh, as the
// h/ rows of before reset at that row.
//
//	MergeRow v3: 0x03 ‖ link(survivor) ‖ link(absorbed) ‖ what follows 0x02 in v2
//	link:        0x00 (none) | 0x01 ‖ uvarint (offset − link's offset) ‖ uvarint link's index
//	             (same log partition) | 0x02 ‖ uvarint partition ‖ uvarint offset ‖ uvarint index
//
// A link always names an earlier position than its row's (checked when
// read), so a chain ends.
type lineageLinks struct {
	survivor, absorbed       lpos
	hasSurvivor, hasAbsorbed bool
}

const (
	linkNone      = 0
	linkSamePart  = 1
	linkOtherPart = 2
)

// maxChainHops bounds the rows a history query reads along one chain
// (split rows, which add no step, included); past it the list is cut.
const maxChainHops = 10 * maxViewSteps

func appendLink(b []byte, at, prev lpos, has bool) []byte {
	switch {
	case !has:
		return append(b, linkNone)
	case prev.part == at.part:
		b = append(b, linkSamePart)
		b = binary.AppendUvarint(b, uint64(at.off-prev.off))
		return binary.AppendUvarint(b, uint64(prev.index))
	default:
		b = append(b, linkOtherPart)
		return appendHead(b, prev)
	}
}

// appendLinkedRow appends the v3 value of the row at position at: its
// links, then body (appendMergeBody).
func appendLinkedRow(b []byte, at lpos, links lineageLinks, body []byte) []byte {
	b = append(b, codecV3)
	b = appendLink(b, at, links.survivor, links.hasSurvivor)
	b = appendLink(b, at, links.absorbed, links.hasAbsorbed)
	return append(b, body...)
}

// readLinks reads the links of the v3 row at position at (after its
// version byte).
func readLinks(d *decoder, at lpos) (l lineageLinks) {
	l.survivor, l.hasSurvivor = readLink(d, at)
	l.absorbed, l.hasAbsorbed = readLink(d, at)
	return l
}

// readLink reads a link of the row at position at.
func readLink(d *decoder, at lpos) (prev lpos, has bool) {
	switch d.byte() {
	case linkNone:
		return lpos{}, false
	case linkSamePart:
		delta, index := d.uvarint(), d.u32()
		if delta > uint64(at.off) {
			d.fail("link before the log's start")
			return lpos{}, false
		}
		prev = lpos{part: at.part, off: at.off - int64(delta), index: index}
	case linkOtherPart:
		prev = d.head()
		if d.err == nil && prev.part == at.part {
			d.fail("link to the same partition in its long form")
		}
	default:
		d.fail("unknown link")
	}
	if d.err != nil {
		return lpos{}, false
	}
	if prev.cmp(at) >= 0 {
		d.fail("link not to an earlier row")
		return lpos{}, false
	}
	return prev, true
}

// chainStep is what a history query reads of a row in a chain.
type chainStep struct {
	rule               unionfind.Rule
	survivor, absorbed unionfind.PersonID
	links              lineageLinks
}

// chainRow reads the links, rule and persons of the v3 row at p.
func (t *tx) chainRow(team string, p lpos) (chainStep, error) {
	r, err := t.reader()
	if err != nil {
		return chainStep{}, err
	}
	k := lineageKey(nil, team, p)
	var c chainStep
	found, err := r.get(k, func(v []byte) error {
		d := decoder{b: v}
		if d.byte() != codecV3 {
			return corrupt("lineage chain", "links a row that has no links")
		}
		c.links = readLinks(&d, p)
		d.byte() // flags, checked when the row is read whole
		c.rule = unionfind.Rule(d.byte())
		c.survivor = d.uuid()
		c.absorbed = d.uuid()
		if d.err != nil {
			return corrupt("lineage row", d.err.Error())
		}
		return nil
	})
	if err == nil && !found {
		err = corrupt("lineage chain", "links a missing row")
	}
	return c, wrapKey(err, k)
}

// appendSource appends bytes topic ‖ varint partition ‖ varint offset ‖
// uvarint index: a row's source event, as v1 and v2 write it.
func appendSource(b []byte, src unionfind.Source) []byte {
	b = appendBytes(b, src.Topic)
	b = binary.AppendVarint(b, int64(src.Partition))
	b = binary.AppendVarint(b, src.Offset)
	return binary.AppendUvarint(b, uint64(src.Index))
}

// decodeSource reads what appendSource wrote.
func decodeSource(d *decoder) unionfind.Source {
	return unionfind.Source{Topic: string(d.bytes()), Partition: d.i32(), Offset: d.varint(), Index: d.u32()}
}

// appendMoved appends uvarint total ‖ uvarint n ‖ n × bytes distinct_id:
// the first MaxLineageMovedKept of moved (decodeMoved reads it).
func appendMoved(b []byte, moved []string) []byte {
	kept := moved[:min(len(moved), MaxLineageMovedKept)]
	b = binary.AppendUvarint(b, uint64(len(moved)))
	b = binary.AppendUvarint(b, uint64(len(kept)))
	for _, id := range kept {
		b = appendBytes(b, id)
	}
	return b
}

// movedFlag is the v2 flag that stands for row's moved ids, or 0.
func movedFlag(row *unionfind.MergeRow) byte {
	switch {
	case len(row.Moved) != 1:
		return 0
	case row.Moved[0] == row.Other:
		return lineageMovedOther
	case row.Moved[0] == row.Into:
		return lineageMovedInto
	}
	return 0
}

// parseCanonicalUUID returns the 16 bytes of s if s is a UUID in the one
// form that formatting them gives back (uuid.UUID.String: 36 characters,
// lowercase hex, hyphens at 8, 13, 18 and 23).
func parseCanonicalUUID(s string) (uuid.UUID, bool) {
	u, ok := jsonlit.ParseUUID(s)
	return u, ok && !strings.ContainsAny(s, "ABCDEF")
}

// appendMergeHead appends every field of a lineage row but its moved ids:
// the part that v1 l/ rows and the outbox (codec.go) write alike.
func appendMergeHead(b []byte, row *unionfind.MergeRow) []byte {
	b = append(b, byte(row.Rule))
	b = append(b, row.Survivor[:]...)
	b = append(b, row.Absorbed[:]...)
	b = appendBytes(b, row.Team)
	b = appendBytes(b, row.Refused)
	b = appendBytes(b, row.Other)
	b = appendBytes(b, row.Into)
	b = appendBytes(b, row.EventUUID)
	b = appendSource(binary.AppendVarint(b, row.Timestamp), row.Source)
	b = binary.AppendVarint(b, int64(row.Log.Partition))
	b = binary.AppendVarint(b, row.Log.Offset)
	return binary.AppendVarint(b, row.Log.Time)
}

// decodeMergeHead reads what appendMergeHead wrote into row.
func decodeMergeHead(d *decoder, row *unionfind.MergeRow) {
	row.Rule = unionfind.Rule(d.byte())
	row.Survivor = d.uuid()
	row.Absorbed = d.uuid()
	row.Team = string(d.bytes())
	row.Refused = string(d.bytes())
	row.Other = string(d.bytes())
	row.Into = string(d.bytes())
	row.EventUUID = string(d.bytes())
	row.Timestamp = d.varint()
	row.Source = decodeSource(d)
	row.Log.Partition = d.i32()
	row.Log.Offset = d.varint()
	row.Log.Time = d.varint()
}

// decodeMergeRow decodes the row stored under l/ str(team) p, keeping at
// most keepMoved of its moved ids (all are checked); total is how many
// moved in all. It does not keep v.
func decodeMergeRow(team string, p lpos, v []byte, keepMoved int) (row unionfind.MergeRow, total uint64, err error) {
	d := decoder{b: v}
	var flags byte
	v2 := false
	switch d.byte() {
	case codecV1:
		decodeMergeHead(&d, &row)
	case codecV2, codecV3:
		if v[0] == codecV3 {
			readLinks(&d, p)
		}
		v2, flags = true, d.byte()
		decodeMergeRowV2(&d, flags, &row)
		row.Team, row.Log.Partition, row.Log.Offset = team, p.part, p.off
	default:
		return unionfind.MergeRow{}, 0, corrupt("lineage row", "unknown version")
	}
	switch {
	case flags&lineageMovedInto != 0 && row.Into == row.Other:
		d.fail("moved id flagged as into, which is other") // appendMergeRow flags other first
	case flags&(lineageMovedOther|lineageMovedInto) != 0:
		total = 1
		if keepMoved > 0 {
			row.Moved = []string{row.Other}
			if flags&lineageMovedInto != 0 {
				row.Moved[0] = row.Into
			}
		}
	case v2:
		total = decodeMoved(&d, &row, max(keepMoved, 1))
		if d.err == nil && total == 1 && movedFlag(&row) != 0 {
			d.fail("moved id not flagged") // v2 has one encoding per row
		}
		row.Moved = row.Moved[:min(len(row.Moved), max(keepMoved, 0))]
	default:
		total = decodeMoved(&d, &row, keepMoved)
	}
	if err := d.finish("lineage row"); err != nil {
		return unionfind.MergeRow{}, 0, err
	}
	return row, total, nil
}

// decodeMergeRowV2 reads a v2 value's fields after its flags.
func decodeMergeRowV2(d *decoder, flags byte, row *unionfind.MergeRow) {
	if flags&^lineageFlags != 0 || flags&lineageMovedOther != 0 && flags&lineageMovedInto != 0 {
		d.fail("unknown flags")
		return
	}
	row.Rule = unionfind.Rule(d.byte())
	row.Survivor = d.uuid()
	row.Absorbed = d.uuid()
	row.Refused = string(d.bytes())
	row.Other = string(d.bytes())
	row.Into = string(d.bytes())
	if flags&lineageUUID != 0 {
		row.EventUUID = d.uuid().String() // the canonical form, as parseCanonicalUUID read it
	} else {
		id := d.bytes()
		if _, ok := parseCanonicalUUID(string(id)); ok {
			d.fail("canonical event uuid not flagged")
		}
		row.EventUUID = string(id)
	}
	row.Timestamp = d.varint()
	row.Source = decodeSource(d)
	row.Log.Time = d.varint()
}

// decodeMoved reads uvarint total ‖ uvarint n ‖ n × bytes distinct_id into
// row.Moved (at most keepMoved of them, all checked) and returns total.
func decodeMoved(d *decoder, row *unionfind.MergeRow, keepMoved int) (total uint64) {
	total = d.uvarint()
	n := d.count()
	if d.err == nil && (n > total || n > MaxLineageMovedKept || n < min(total, MaxLineageMovedKept)) {
		d.fail("moved count does not match total")
	}
	if n > 0 {
		row.Moved = make([]string, 0, min(n, uint64(max(keepMoved, 0))))
	}
	var prev []byte
	for i := uint64(0); i < n && d.err == nil; i++ {
		id := d.bytes()
		if i > 0 && bytes.Compare(prev, id) >= 0 {
			d.fail("moved ids out of order")
		}
		prev = id
		if len(row.Moved) < keepMoved {
			row.Moved = append(row.Moved, string(id))
		}
	}
	return total
}

// ErrInvalidLineage is what PutLineage returns (wrapped) for a row it
// refuses to store: a string over its bound, a negative log position, a
// refusal that moved ids. Nothing was written by that call.
var ErrInvalidLineage = errors.New("state: invalid lineage row")

func invalidLineage(why string) error {
	return fmt.Errorf("%w: %s", ErrInvalidLineage, why)
}

// checkLineageRow checks a row's bounds before anything becomes a key.
func checkLineageRow(row *unionfind.MergeRow) error {
	for _, f := range []struct{ name, s string }{
		{"team", row.Team}, {"refused", row.Refused}, {"other", row.Other}, {"into", row.Into},
		{"event uuid", row.EventUUID}, {"source topic", row.Source.Topic},
	} {
		if len(f.s) > maxLineageString {
			return invalidLineage(f.name + " longer than 1024 bytes")
		}
	}
	if row.Log.Partition < 0 || row.Log.Offset < 0 {
		return invalidLineage("negative identity_log position")
	}
	for _, id := range row.Moved {
		if len(id) > maxLineageString {
			return invalidLineage("a moved distinct_id longer than 1024 bytes")
		}
	}
	if row.Refused != "" && len(row.Moved) > 0 {
		return invalidLineage("a refused row moved distinct_ids")
	}
	return nil
}

// PutLineage implements Tx.
func (t *tx) PutLineage(row unionfind.MergeRow) error {
	w, err := t.writer()
	if err != nil {
		return err
	}
	if err := checkLineageRow(&row); err != nil {
		return err
	}
	if !sortedUnique(row.Moved) { // the contract says sorted; be sure
		row.Moved = slices.Compact(slices.Sorted(slices.Values(row.Moved)))
	}
	// The persons whose chains this row joins (links above), and where
	// each chain stood.
	var chained [2]*personState
	var links lineageLinks
	if row.Refused == "" {
		chained[0] = t.chainOf(row.Team, row.Survivor)
		if row.Absorbed != row.Survivor {
			chained[1] = t.chainOf(row.Team, row.Absorbed)
		}
		if st := chained[0]; st != nil {
			links.survivor, links.hasSurvivor = st.head, st.linked
		}
		if st := chained[1]; st != nil {
			links.absorbed, links.hasAbsorbed = st.head, st.linked
		}
	}
	body := appendMergeBody(nil, &row)
	// The row's index among its op's rows: how many are stored before it.
	// Storing an equal row again (a retried op) changes nothing: rows are
	// compared without their links, which a retry finds moved on. The
	// index is found by point reads of index 0, 1, … (an op has one row
	// or a few), not by a scan of the op's prefix: a scan inside a write
	// transaction costs a sort of all of its pending writes.
	var n uint32
	for ; ; n++ {
		at := lpos{part: row.Log.Partition, off: row.Log.Offset, index: n}
		k := lineageKey(t.kb[:0], row.Team, at)
		t.kb = k
		if t.filter != nil && !t.filter.mayHave(k) {
			break // never written (replayfilter.go)
		}
		same, v1 := false, false
		found, err := w.get(k, func(val []byte) error {
			got, ok := mergeBody(val, at)
			same = ok && bytes.Equal(got, body)
			v1 = !same && len(val) > 0 && val[0] == codecV1
			return nil
		})
		if err == nil && v1 {
			same, err = sameAsV1(w, k, &row)
		}
		if err != nil {
			return wrapKey(err, k)
		}
		if same {
			return nil
		}
		if !found {
			break
		}
	}
	p := lpos{part: row.Log.Partition, off: row.Log.Offset, index: n}
	v := appendLinkedRow(make([]byte, 0, 1+2*(1+3*binary.MaxVarintLen64)+len(body)), p, links, body)
	k := lineageKey(nil, row.Team, p)
	if t.filter != nil {
		t.filter.add(k)
	}
	if err := w.set(k, v); err != nil {
		return wrapKey(err, k)
	}
	for _, st := range chained {
		if st != nil {
			st.head, st.linked, st.relink = p, true, true // flushPersons writes the person
		}
	}
	// In a replay the index rows may be held back (deferredindex.go).
	pt, _ := w.(*pipeTxn)
	put := func(k []byte, role byte) error {
		k = appendPos(k, p)
		v := appendHist(make([]byte, 0, histValueLen+binary.MaxVarintLen64), &row, role)
		if pt != nil && pt.defers {
			return wrapKey(pt.deferWrite(k, v), k)
		}
		return wrapKey(w.set(k, v), k)
	}
	if row.Refused == "" {
		for _, id := range row.Moved {
			if err := put(histIDPrefix(nil, row.Team, histMoved, id), roleMoved); err != nil {
				return err
			}
		}
		return nil
	}
	for i, id := range []string{row.Other, row.Into} {
		if id == "" || i == 1 && id == row.Other {
			continue
		}
		if err := put(histIDPrefix(nil, row.Team, histRefused, id), roleNamed); err != nil {
			return err
		}
	}
	return nil
}

// chainOf returns the transaction's state of person id when this
// transaction wrote the person's value (so its flush writes the head
// again), nil otherwise or for the zero id: see "Lineage chains".
func (t *tx) chainOf(team string, id unionfind.PersonID) *personState {
	if id == (unionfind.PersonID{}) {
		return nil
	}
	k := personKey(t.kb[:0], team, id)
	t.kb = k
	if st, ok := t.persons[string(k)]; ok && st.written {
		return st
	}
	return nil
}

// LineageStep is one stored lineage row (docs/SEMANTICS.md §8), shaped for
// people and JSON clients; its fields are those of the person_merges feed
// plus the refusal, the ids the request named and the row's place in
// identity_log.
type LineageStep struct {
	// Rule is identify, alias, merge_dangerously, split or delete.
	Rule string `json:"rule"`
	// Refused is the warning type of a refused merge, split or deletion
	// ("" when the step happened); a refused step moved nothing.
	Refused string `json:"refused,omitempty"`
	// SurvivorPersonID is the person the ids moved into (the new person
	// of a split; "" for a deletion); AbsorbedPersonID the one they left.
	// For a refusal: the two persons found, where known.
	SurvivorPersonID string `json:"survivor_person_id,omitempty"`
	AbsorbedPersonID string `json:"absorbed_person_id,omitempty"`
	// DistinctIDsMoved are the first (byte order) of the ids that moved;
	// DistinctIDsMovedCount is how many moved in all.
	DistinctIDsMoved      []string `json:"distinct_ids_moved"`
	DistinctIDsMovedCount uint64   `json:"distinct_ids_moved_count"`
	// OtherDistinctID and IntoDistinctID are the ids the request named
	// (Into: the event's own distinct_id).
	OtherDistinctID string `json:"other_distinct_id,omitempty"`
	IntoDistinctID  string `json:"into_distinct_id,omitempty"`
	EventUUID       string `json:"event_uuid,omitempty"`
	EventTimestamp  string `json:"event_timestamp"`
	SourceTopic     string `json:"source_topic"`
	SourcePartition int32  `json:"source_partition"`
	SourceOffset    int64  `json:"source_offset"`
	SourceIndex     uint32 `json:"source_index"`
	LogPartition    int32  `json:"log_partition"`
	LogOffset       int64  `json:"log_offset"`
	// LogIndex is the step's index among the rows of its op.
	LogIndex uint32 `json:"log_index"`
	// LogTime is the identity_log record time: what AsOf goes by.
	LogTime string `json:"log_time"`
}

func stepView(row *unionfind.MergeRow, total uint64, index uint32) LineageStep {
	s := LineageStep{
		Rule:                  row.Rule.String(),
		Refused:               row.Refused,
		DistinctIDsMoved:      row.Moved,
		DistinctIDsMovedCount: total,
		OtherDistinctID:       row.Other,
		IntoDistinctID:        row.Into,
		EventUUID:             row.EventUUID,
		EventTimestamp:        formatMillisUTC(row.Timestamp),
		SourceTopic:           row.Source.Topic,
		SourcePartition:       row.Source.Partition,
		SourceOffset:          row.Source.Offset,
		SourceIndex:           row.Source.Index,
		LogPartition:          row.Log.Partition,
		LogOffset:             row.Log.Offset,
		LogIndex:              index,
		LogTime:               formatMillisUTC(row.Log.Time),
	}
	if s.DistinctIDsMoved == nil {
		s.DistinctIDsMoved = []string{}
	}
	if row.Survivor != (unionfind.PersonID{}) {
		s.SurvivorPersonID = row.Survivor.String()
	}
	if row.Absorbed != (unionfind.PersonID{}) {
		s.AbsorbedPersonID = row.Absorbed.String()
	}
	return s
}

// LineageView is the lineage of one distinct_id: how it came to be in its
// person. `resolver explain` prints it and /v1/persons/lineage returns it.
type LineageView struct {
	Team       string `json:"team"`
	DistinctID string `json:"distinct_id"`
	// PersonID is the id's person now (as Lookup); Implicit when no
	// stored person claims the id.
	PersonID string `json:"person_id"`
	Implicit bool   `json:"implicit"`
	// Moves are the steps that moved the id, in identity_log order.
	Moves []LineageStep `json:"moves"`
	// Grew are the steps that moved ids into the current person since it
	// was last created (a merge absorbing it or its deletion ends a
	// person; its id may start again), in identity_log order.
	Grew []LineageStep `json:"grew"`
	// Refusals are the newest refused steps that named the id.
	Refusals []LineageStep `json:"refusals"`
	// Truncated: a list above holds only its newest steps (500 at most;
	// refusals 50), or Grew stopped after reading 5,000 rows of the
	// person's chain (splits between its growth steps included).
	Truncated bool `json:"truncated"`
}

// Lineage returns the lineage of a distinct_id, read from one snapshot.
// An id no step ever moved has empty lists (it is in the person it started
// in: its implicit one).
func (s *Store) Lineage(team, distinctID string) (LineageView, error) {
	var v LineageView
	err := s.View(func(t Tx) error {
		var err error
		v, err = lineage(t.(*tx), team, distinctID)
		return err
	})
	return v, err
}

func lineage(t *tx, team, did string) (LineageView, error) {
	p, explicit, err := unionfind.Find(t, team, did)
	if err != nil {
		return LineageView{}, err
	}
	v := LineageView{Team: team, DistinctID: did, PersonID: p.ID.String(), Implicit: !explicit}
	moves, cut, err := t.history(histIDPrefix(nil, team, histMoved, did), maxViewSteps)
	if err != nil {
		return LineageView{}, err
	}
	v.Truncated = v.Truncated || cut
	if v.Moves, err = t.steps(team, moves); err != nil {
		return LineageView{}, err
	}
	grew, cut, err := t.growth(team, p.ID)
	if err != nil {
		return LineageView{}, err
	}
	v.Truncated = v.Truncated || cut
	if v.Grew, err = t.steps(team, grew); err != nil {
		return LineageView{}, err
	}
	refused, cut, err := t.history(histIDPrefix(nil, team, histRefused, did), maxRefusalsShown)
	if err != nil {
		return LineageView{}, err
	}
	v.Truncated = v.Truncated || cut
	if v.Refusals, err = t.steps(team, refused); err != nil {
		return LineageView{}, err
	}
	return v, nil
}

// history reads the h/ entries under prefix, in log order, keeping the
// newest keep of them (keep <= 0: all); cut reports whether any were
// dropped.
func (t *tx) history(prefix []byte, keep int) (ents []histEntry, cut bool, err error) {
	r, err := t.reader()
	if err != nil {
		return nil, false, err
	}
	rg := ring{keep: keep}
	err = r.scan(prefix, nil, false, func(k, val []byte) (bool, error) {
		p, ok := readPos(k[len(prefix):])
		if !ok {
			return false, wrapKey(corrupt("lineage index", "malformed key"), k)
		}
		e, err := decodeHist(p, val, nil)
		if err != nil {
			return false, wrapKey(err, k)
		}
		rg.add(e)
		return true, nil
	})
	if err != nil {
		return nil, false, wrapKeyOnce(err, prefix)
	}
	return rg.list(), rg.cut, nil
}

// ring keeps the newest keep entries added (keep <= 0: all).
type ring struct {
	buf   []histEntry
	start int
	keep  int
	cut   bool
}

func (r *ring) add(e histEntry) {
	if r.keep <= 0 || len(r.buf) < r.keep {
		r.buf = append(r.buf, e)
		return
	}
	r.buf[r.start] = e
	r.start = (r.start + 1) % r.keep
	r.cut = true
}

func (r *ring) reset() { r.buf, r.start, r.cut = r.buf[:0], 0, false }

// list returns the entries, oldest first.
func (r *ring) list() []histEntry {
	out := make([]histEntry, 0, len(r.buf))
	out = append(out, r.buf[r.start:]...)
	return append(out, r.buf[:r.start]...)
}

// growth returns the steps that moved ids into person id since it was last
// ended (absorbed whole or deleted), the newest maxViewSteps of them: its
// chain (see "Lineage chains"), and where the chain begins, the h/ rows an
// older replica wrote before it.
func (t *tx) growth(team string, id unionfind.PersonID) (ents []histEntry, cut bool, err error) {
	_, m, _, err := t.personRecord(team, id)
	if err != nil {
		return nil, false, err
	}
	var chain []histEntry // newest first
	pos, more := m.head, m.linked
	for hops := 0; more; hops++ {
		if hops == maxChainHops {
			cut = true
			break
		}
		c, err := t.chainRow(team, pos)
		if err != nil {
			return nil, false, err
		}
		switch {
		case c.survivor == id:
			if len(chain) == maxViewSteps {
				return reverse(chain), true, nil
			}
			chain = append(chain, histEntry{pos: pos, rule: c.rule, role: roleSurvivor, survivor: c.survivor, absorbed: c.absorbed})
			pos, more = c.links.survivor, c.links.hasSurvivor
		case c.absorbed == id && c.rule != unionfind.RuleSplit:
			return reverse(chain), false, nil // the person ended there
		case c.absorbed == id:
			pos, more = c.links.absorbed, c.links.hasAbsorbed
		default:
			return nil, false, wrapKey(corrupt("lineage chain", "links a row of another person"), lineageKey(nil, team, pos))
		}
	}
	if cut {
		return reverse(chain), true, nil
	}
	old, cut, err := t.indexedGrowth(team, id)
	if err != nil {
		return nil, false, err
	}
	ents = append(old, reverse(chain)...)
	if len(ents) > maxViewSteps {
		ents, cut = ents[len(ents)-maxViewSteps:], true
	}
	return ents, cut, nil
}

// reverse returns ents in the opposite order.
func reverse(ents []histEntry) []histEntry {
	slices.Reverse(ents)
	return ents
}

// indexedGrowth is growth from the h/ rows of a person, which replicas
// wrote before lineage chains.
func (t *tx) indexedGrowth(team string, id unionfind.PersonID) (ents []histEntry, cut bool, err error) {
	r, err := t.reader()
	if err != nil {
		return nil, false, err
	}
	prefix := histPersonPrefix(nil, team, id)
	rg := ring{keep: maxViewSteps}
	err = r.scan(prefix, nil, false, func(k, val []byte) (bool, error) {
		p, ok := readPos(k[len(prefix):])
		if !ok {
			return false, wrapKey(corrupt("lineage index", "malformed key"), k)
		}
		e, err := decodeHist(p, val, &id)
		if err != nil {
			return false, wrapKey(err, k)
		}
		switch {
		case e.role == roleAbsorbed && e.rule != unionfind.RuleSplit:
			rg.reset()
		case e.role == roleSurvivor:
			rg.add(e)
		}
		return true, nil
	})
	if err != nil {
		return nil, false, wrapKeyOnce(err, prefix)
	}
	return rg.list(), rg.cut, nil
}

// steps decodes the rows of entries.
func (t *tx) steps(team string, ents []histEntry) ([]LineageStep, error) {
	out := make([]LineageStep, 0, len(ents))
	for _, e := range ents {
		s, err := t.step(team, e.pos)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func (t *tx) row(team string, p lpos) (row unionfind.MergeRow, total uint64, err error) {
	r, err := t.reader()
	if err != nil {
		return unionfind.MergeRow{}, 0, err
	}
	k := lineageKey(nil, team, p)
	found, err := r.get(k, func(v []byte) (err error) {
		row, total, err = decodeMergeRow(team, p, v, maxViewMoved)
		return err
	})
	if err == nil && !found {
		err = corrupt("lineage index", "names a missing row")
	}
	return row, total, wrapKey(err, k)
}

func (t *tx) step(team string, p lpos) (LineageStep, error) {
	row, total, err := t.row(team, p)
	if err != nil {
		return LineageStep{}, err
	}
	return stepView(&row, total, p.index), nil
}

// timeline is what the moves of one id say about its person over time.
type timeline struct {
	moves   []histEntry // log order
	initial unionfind.PersonID
	current unionfind.PersonID
}

func (t *tx) timeline(team, did string) (timeline, error) {
	moves, _, err := t.history(histIDPrefix(nil, team, histMoved, did), 0)
	if err != nil {
		return timeline{}, err
	}
	p, _, err := unionfind.Find(t, team, did)
	if err != nil {
		return timeline{}, err
	}
	return timeline{moves: moves, initial: unionfind.ImplicitPersonID(team, did), current: p.ID}, nil
}

// after returns the id's person once its first k moves are applied, and
// how that is known (see AsOfView.Basis): after a move into a person, that
// person; before the id's first move, and after a deletion, the person the
// next move took it out of; with no move at all, its implicit person;
// after its last move, when that was a deletion, its person now.
func (tl *timeline) after(k int) (unionfind.PersonID, string) {
	if k > 0 {
		if last := tl.moves[k-1]; last.rule != unionfind.RuleDelete && last.survivor != (unionfind.PersonID{}) {
			return last.survivor, BasisMoved
		}
	}
	if k < len(tl.moves) {
		return tl.moves[k].absorbed, BasisBeforeNext
	}
	if k == 0 {
		return tl.initial, BasisImplicit
	}
	return tl.current, BasisCurrent
}

// before returns how many of the id's moves are before position p.
func (tl *timeline) before(p lpos) int {
	k, _ := slices.BinarySearchFunc(tl.moves, p, func(e histEntry, p lpos) int { return e.pos.cmp(p) })
	return k
}

// Bases of an AsOfView: how the person was found.
const (
	// BasisImplicit: no recorded step ever moved the id: its implicit
	// person.
	BasisImplicit = "implicit"
	// BasisMoved: the person the last step at or before the time moved
	// the id into.
	BasisMoved = "moved"
	// BasisBeforeNext: no step moved the id by then (or the last one
	// deleted its person): the person the next step took it out of.
	BasisBeforeNext = "before_next"
	// BasisCurrent: the last step, a deletion, was at or before the time:
	// the id's person now (its implicit or fresh person).
	BasisCurrent = "current"
)

// AsOfView is the person a distinct_id belonged to at a past time.
type AsOfView struct {
	Team       string `json:"team"`
	DistinctID string `json:"distinct_id"`
	// At is the time asked about (RFC 3339, UTC, milliseconds).
	At       string `json:"at"`
	PersonID string `json:"person_id"`
	// ImplicitID: PersonID is the id's implicit person id.
	ImplicitID bool `json:"implicit_id"`
	// Basis says how PersonID was found: implicit, moved, before_next or
	// current (see the Basis constants).
	Basis string `json:"basis"`
	// Step is the last step at or before At that moved the id, if any.
	Step *LineageStep `json:"step,omitempty"`
}

// AsOf answers which person a distinct_id belonged to at time at, going by
// the identity_log record times of the steps that moved it (not by event
// times). The rule: take the id's moves in log order up to, not including,
// the first one recorded after at (record times are not strictly
// monotonic; the prefix keeps the answer a state the id really passed
// through). After the last of them the id was in the person that step
// moved it into. With none of them, or when the last was a deletion, it
// was in the person the next move took it out of (before its first move
// that is its implicit person: a first event turning an implicit person
// explicit keeps its id; after a deletion, the implicit or fresh person
// its next event started); with no next move either, its implicit person
// if nothing ever moved it, else (after a deletion) its person now.
//
// Steps stored before lineage existed are unknown: for them AsOf reports
// what the recorded steps say.
func (s *Store) AsOf(team, distinctID string, at time.Time) (AsOfView, error) {
	var v AsOfView
	err := s.View(func(t Tx) error {
		var err error
		v, err = asOf(t.(*tx), team, distinctID, at)
		return err
	})
	return v, err
}

func asOf(t *tx, team, did string, at time.Time) (AsOfView, error) {
	tl, err := t.timeline(team, did)
	if err != nil {
		return AsOfView{}, err
	}
	ms := at.UnixMilli()
	k := 0
	for k < len(tl.moves) && tl.moves[k].time <= ms {
		k++
	}
	id, basis := tl.after(k)
	v := AsOfView{
		Team: team, DistinctID: did, At: formatMillisUTC(ms),
		PersonID: id.String(), ImplicitID: id == tl.initial, Basis: basis,
	}
	if k > 0 {
		st, err := t.step(team, tl.moves[k-1].pos)
		if err != nil {
			return AsOfView{}, err
		}
		v.Step = &st
	}
	return v, nil
}

// PathView is what links two distinct_ids, or keeps them apart.
type PathView struct {
	Team string `json:"team"`
	// A and B are the ids asked about; PersonA and PersonB their persons
	// now.
	A       string `json:"distinct_id"`
	B       string `json:"other"`
	PersonA string `json:"person_id"`
	PersonB string `json:"other_person_id"`
	// SamePerson: A and B are in one person now.
	SamePerson bool `json:"same_person"`
	// MovesA and MovesB are the steps that moved A and B, in log order:
	// together, the chains that put both in their person(s).
	MovesA []LineageStep `json:"moves"`
	MovesB []LineageStep `json:"other_moves"`
	// Joined (same person) is the last step that put A and B in one
	// person, if a recorded one did.
	Joined *LineageStep `json:"joined,omitempty"`
	// Refusals (apart) are the refused steps between an id of A's person
	// and an id of B's person, in log order (the newest 500).
	Refusals []LineageStep `json:"refusals"`
	// Separated (apart) is the last deletion or split that separated A
	// and B, if they were ever in one person.
	Separated *LineageStep `json:"separated,omitempty"`
	// Truncated: a list holds only its newest steps, or the refusal search
	// stopped at its bound (10,000 ids of the smaller person, 100,000
	// refusals read).
	Truncated bool `json:"truncated"`
}

// Path explains how two distinct_ids came to be in one person, or what
// keeps them apart, read from one snapshot.
func (s *Store) Path(team, a, b string) (PathView, error) {
	var v PathView
	err := s.View(func(t Tx) error {
		var err error
		v, err = path(t.(*tx), team, a, b)
		return err
	})
	return v, err
}

func path(t *tx, team, a, b string) (PathView, error) {
	ta, err := t.timeline(team, a)
	if err != nil {
		return PathView{}, err
	}
	tb, err := t.timeline(team, b)
	if err != nil {
		return PathView{}, err
	}
	// An id no recorded step moved has been in its person now all along
	// (its implicit one, unless it moved before lineage was recorded).
	for _, tl := range []*timeline{&ta, &tb} {
		if len(tl.moves) == 0 {
			tl.initial = tl.current
		}
	}
	v := PathView{
		Team: team, A: a, B: b, PersonA: ta.current.String(), PersonB: tb.current.String(),
		SamePerson: ta.current == tb.current,
	}
	for _, x := range []struct {
		tl  *timeline
		dst *[]LineageStep
	}{{&ta, &v.MovesA}, {&tb, &v.MovesB}} {
		ents := x.tl.moves
		if len(ents) > maxViewSteps {
			ents, v.Truncated = ents[len(ents)-maxViewSteps:], true
		}
		if *x.dst, err = t.steps(team, ents); err != nil {
			return PathView{}, err
		}
	}
	// The last step of either id after which their sameness became what it
	// is now.
	var change *histEntry
	for _, tl := range []*timeline{&ta, &tb} {
		for i := range tl.moves {
			e := &tl.moves[i]
			if change != nil && e.pos.cmp(change.pos) <= 0 {
				continue
			}
			if !v.SamePerson && e.rule != unionfind.RuleDelete && e.rule != unionfind.RuleSplit {
				continue
			}
			pa0, _ := ta.after(ta.before(e.pos))
			pb0, _ := tb.after(tb.before(e.pos))
			pa1, _ := ta.after(ta.before(e.pos) + btoi(ta.has(e.pos)))
			pb1, _ := tb.after(tb.before(e.pos) + btoi(tb.has(e.pos)))
			if (pa0 == pb0) != v.SamePerson && (pa1 == pb1) == v.SamePerson {
				change = e
			}
		}
	}
	if change != nil {
		st, err := t.step(team, change.pos)
		if err != nil {
			return PathView{}, err
		}
		if v.SamePerson {
			v.Joined = &st
		} else {
			v.Separated = &st
		}
	}
	v.Refusals = []LineageStep{}
	if !v.SamePerson {
		ents, cut, err := t.refusalsBetween(team, a, b)
		if err != nil {
			return PathView{}, err
		}
		v.Truncated = v.Truncated || cut
		if v.Refusals, err = t.steps(team, ents); err != nil {
			return PathView{}, err
		}
	}
	return v, nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (tl *timeline) has(p lpos) bool {
	k := tl.before(p)
	return k < len(tl.moves) && tl.moves[k].pos == p
}

// members returns the ids of the person of did (just did for an implicit
// person), at most limit of them; cut reports more.
func (t *tx) members(team, did string, limit int) (p unionfind.Person, ids []string, cut bool, err error) {
	p, explicit, err := unionfind.Find(t, team, did)
	if err != nil || !explicit {
		return p, []string{did}, false, err
	}
	err = t.Members(team, p.ID, func(d string) error {
		if len(ids) == limit {
			cut = true
			return errStopMembers
		}
		ids = append(ids, d)
		return nil
	})
	if errors.Is(err, errStopMembers) {
		err = nil
	}
	return p, ids, cut, err
}

var errStopMembers = errors.New("enough members")

// refusalsBetween finds the refused steps that named an id of a's person
// and an id of b's person: it reads the refusals of the smaller person's
// ids and checks where the other named id is now.
func (t *tx) refusalsBetween(team, a, b string) (ents []histEntry, cut bool, err error) {
	pa, idsA, cutA, err := t.members(team, a, maxPathMembers)
	if err != nil {
		return nil, false, err
	}
	pb, idsB, cutB, err := t.members(team, b, maxPathMembers)
	if err != nil {
		return nil, false, err
	}
	ids, other := idsA, pb.ID
	if len(idsB) < len(idsA) || cutA && !cutB {
		ids, other, cutA = idsB, pa.ID, cutB
	}
	cut = cutA
	where := map[string]unionfind.PersonID{}
	seen := map[lpos]bool{}
	read := 0
	for _, id := range ids {
		named, _, err := t.history(histIDPrefix(nil, team, histRefused, id), maxPathRefusals)
		if err != nil {
			return nil, false, err
		}
		for _, e := range named {
			if read++; read > maxPathRefusals {
				cut = true
				break
			}
			if seen[e.pos] {
				continue
			}
			row, _, err := t.row(team, e.pos)
			if err != nil {
				return nil, false, err
			}
			o := row.Other
			if o == id {
				o = row.Into
			}
			pid, ok := where[o]
			if !ok {
				p, _, err := unionfind.Find(t, team, o)
				if err != nil {
					return nil, false, err
				}
				pid, where[o] = p.ID, p.ID
			}
			if pid == other && o != id {
				seen[e.pos] = true
				ents = append(ents, e)
			}
		}
		if read > maxPathRefusals {
			break
		}
	}
	slices.SortFunc(ents, func(x, y histEntry) int { return x.pos.cmp(y.pos) })
	if len(ents) > maxViewSteps {
		ents, cut = ents[len(ents)-maxViewSteps:], true
	}
	return ents, cut, nil
}

// sameAsV1 reports whether the v1 value under k (written before
// 2026-12-07) holds row, so that an op retried across an upgrade is not
// stored twice. It is a function of its own, not part of PutLineage's
// callback, so that row stays off the heap on the common path.
func sameAsV1(w kvWriter, k []byte, row *unionfind.MergeRow) (bool, error) {
	var got unionfind.MergeRow
	var total uint64
	var derr error
	if _, err := w.get(k, func(val []byte) error {
		got, total, derr = decodeMergeRow("", lpos{}, val, MaxLineageMovedKept)
		return nil
	}); err != nil {
		return false, err
	}
	if derr != nil || total != uint64(len(row.Moved)) ||
		!slices.Equal(got.Moved, row.Moved[:min(len(row.Moved), MaxLineageMovedKept)]) {
		return false, nil // a corrupt old row is not this row: the new one goes next to it
	}
	got.Moved = row.Moved
	return reflect.DeepEqual(got, *row), nil
}

func sortedUnique(ids []string) bool {
	for i := 1; i < len(ids); i++ {
		if ids[i-1] >= ids[i] {
			return false
		}
	}
	return true
}

// EachLineage calls fn with every stored lineage row, in key order (team,
// then log position), each with at most MaxLineageMovedKept of its moved
// ids and the total. It is for audits and tests (a row per recorded
// merge, split, deletion and refusal: compare with person_merges); fn must
// not call Update.
func (s *Store) EachLineage(fn func(row unionfind.MergeRow, moved uint64) error) error {
	return s.View(func(t Tx) error {
		r, err := t.(*tx).reader()
		if err != nil {
			return err
		}
		return r.scan(tagLineage, nil, false, func(key, val []byte) (bool, error) {
			team, p, ok := parseLineageKey(key)
			if !ok {
				return false, wrapKey(corrupt("lineage row", "malformed key"), key)
			}
			row, total, err := decodeMergeRow(team, p, val, MaxLineageMovedKept)
			if err != nil {
				return false, wrapKey(err, key)
			}
			return true, fn(row, total)
		})
	})
}

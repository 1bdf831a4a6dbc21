package oplog

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// The record versions. A reader refuses versions it does not know rather
// than guess. Every later format keeps the version where a reader of today
// finds it — the "v" of a JSON object, or the first field (VersionField, a
// varint) of a protobuf message — so that a record of a later version is
// told apart from a record that is no op at all: the first makes the
// applier pause until it is upgraded, the second is rejected. Versions run
// up to MaxVersion; a record claiming a higher one, no version, or a known
// version in the other encoding is malformed.
const (
	VersionJSON  = 1 // JSON, {"v":1,...}; read, no longer written
	VersionProto = 2 // oplog.proto's Op, written by Encode for ops a version-2 reader applies right
	// VersionLifecycle is oplog.proto's Op too, written for the ops a
	// binary that reads only version 2 would misapply rather than refuse:
	// sealed values (it would take ciphertext for JSON), a delete by
	// distinct_id (it would delete the zero person: nothing) and a split.
	// Such a binary pauses at them, as at any later version, until it is
	// upgraded (docs/SEMANTICS.md §8).
	VersionLifecycle = 3
	MaxVersion       = 255 // the highest version a record may claim
)

// VersionField is the protobuf field that leads every record of version 2
// and later: field 1, a varint, the version.
const VersionField = fVersion

// ErrVersion marks an identity_log record of an op version this binary
// does not know (a *VersionError).
var ErrVersion = errors.New("oplog: unknown identity_log record version")

// VersionError is a well-formed identity_log record header of a later op
// version than this binary knows.
type VersionError struct{ Version uint64 }

func (e *VersionError) Error() string {
	return fmt.Sprintf("%v %d (this binary reads versions %d to %d)", ErrVersion, e.Version, VersionJSON, VersionLifecycle)
}

// Is makes errors.Is(err, ErrVersion) hold.
func (e *VersionError) Is(target error) bool { return target == ErrVersion }

// Field numbers of oplog.proto's Op, Merge and KV.
const (
	fVersion      protowire.Number = 1
	fKind         protowire.Number = 2
	fSrcTopic     protowire.Number = 3
	fSrcPartition protowire.Number = 4
	fSrcOffset    protowire.Number = 5
	fSrcIndex     protowire.Number = 6
	fTeam         protowire.Number = 7
	fDistinctID   protowire.Number = 8
	fEventUUID    protowire.Number = 9
	fTimestamp    protowire.Number = 10
	fMerge        protowire.Number = 11
	fSet          protowire.Number = 12
	fSetOnce      protowire.Number = 13
	fUnset        protowire.Number = 14
	fPersonID     protowire.Number = 16
	fBlock        protowire.Number = 17
	fSplitIDs     protowire.Number = 18
	fNoProperties protowire.Number = 19
	fGen          protowire.Number = 20
	fKeyID        protowire.Number = 21

	fMergeOther   protowire.Number = 1
	fMergeGuarded protowire.Number = 2
	fMergeRule    protowire.Number = 3

	fKVKey   protowire.Number = 1
	fKVValue protowire.Number = 2
)

type opRecord struct {
	V int `json:"v"`
	unionfind.Op
}

// Encode is the identity_log record value of an op (version 2).
func Encode(op *unionfind.Op) []byte {
	return appendOp(make([]byte, 0, opSize(op)), op)
}

// opSize is an upper bound of an op's encoded size.
func opSize(op *unionfind.Op) int {
	// 96: the varint fields at their longest (version, kind, partition,
	// offset, index, timestamp, block, no_properties, gen, key_id: 75
	// bytes with their tags) and the tags and lengths of the four strings.
	n := 96 + len(op.Source.Topic) + len(op.Team) + len(op.DistinctID) + len(op.EventUUID)
	if op.Merge != nil {
		n += 16 + len(op.Merge.Other)
	}
	for _, kvs := range [2][]unionfind.KV{op.Set, op.SetOnce} {
		for _, kv := range kvs {
			n += 16 + len(kv.Key) + len(kv.Value)
		}
	}
	for _, k := range op.Unset {
		n += 8 + len(k)
	}
	for _, id := range op.SplitIDs {
		n += 8 + len(id)
	}
	return n
}

// versionOf is the version an op is written with.
func versionOf(op *unionfind.Op) uint64 {
	if op.KeyID != 0 || op.Kind == unionfind.OpSplit || op.Kind == unionfind.OpDeletePerson && op.DistinctID != "" {
		return VersionLifecycle
	}
	return VersionProto
}

// appendOp appends the version-2 (or 3) encoding of op. Zero-valued scalars and
// empty strings are left out, as protobuf does.
func appendOp(b []byte, op *unionfind.Op) []byte {
	b = appendVarintField(b, fVersion, versionOf(op))
	b = appendVarintField(b, fKind, uint64(op.Kind))
	b = appendStringField(b, fSrcTopic, op.Source.Topic)
	b = appendVarintField(b, fSrcPartition, uint64(int64(op.Source.Partition)))
	b = appendVarintField(b, fSrcOffset, uint64(op.Source.Offset))
	b = appendVarintField(b, fSrcIndex, uint64(op.Source.Index))
	b = appendStringField(b, fTeam, op.Team)
	b = appendStringField(b, fDistinctID, op.DistinctID)
	b = appendStringField(b, fEventUUID, op.EventUUID)
	b = appendVarintField(b, fTimestamp, uint64(op.Timestamp))
	if m := op.Merge; m != nil {
		// Present even when empty: a merge with Other "" is a request (one
		// the graph refuses as illegal), not the absence of one.
		guarded := boolVarint(m.Guarded)
		b = protowire.AppendTag(b, fMerge, protowire.BytesType)
		b = protowire.AppendVarint(b, uint64(sizeString(fMergeOther, m.Other)+sizeVarint(fMergeGuarded, guarded)+sizeVarint(fMergeRule, uint64(m.Rule))))
		b = appendStringField(b, fMergeOther, m.Other)
		b = appendVarintField(b, fMergeGuarded, guarded)
		b = appendVarintField(b, fMergeRule, uint64(m.Rule))
	}
	b = appendKVs(b, fSet, op.Set)
	b = appendKVs(b, fSetOnce, op.SetOnce)
	for _, k := range op.Unset {
		b = protowire.AppendTag(b, fUnset, protowire.BytesType)
		b = protowire.AppendString(b, k)
	}
	if op.PersonID != (unionfind.PersonID{}) {
		b = protowire.AppendTag(b, fPersonID, protowire.BytesType)
		b = protowire.AppendBytes(b, op.PersonID[:])
	}
	b = appendVarintField(b, fBlock, boolVarint(op.Block))
	for _, id := range op.SplitIDs {
		// Every one written, an empty id too: the ids are named in order.
		b = protowire.AppendTag(b, fSplitIDs, protowire.BytesType)
		b = protowire.AppendString(b, id)
	}
	b = appendVarintField(b, fNoProperties, boolVarint(op.NoProperties))
	b = appendVarintField(b, fGen, uint64(op.Gen))
	b = appendVarintField(b, fKeyID, op.KeyID)
	return b
}

func boolVarint(v bool) uint64 {
	if v {
		return 1
	}
	return 0
}

func appendKVs(b []byte, num protowire.Number, kvs []unionfind.KV) []byte {
	for _, kv := range kvs {
		b = protowire.AppendTag(b, num, protowire.BytesType)
		n := protowire.SizeTag(fKVKey) + protowire.SizeBytes(len(kv.Key)) + protowire.SizeTag(fKVValue) + protowire.SizeBytes(len(kv.Value))
		b = protowire.AppendVarint(b, uint64(n))
		// Both always written: an empty key is a key, an empty value is
		// not JSON but is kept as it came.
		b = protowire.AppendTag(b, fKVKey, protowire.BytesType)
		b = protowire.AppendString(b, kv.Key)
		b = protowire.AppendTag(b, fKVValue, protowire.BytesType)
		b = protowire.AppendBytes(b, kv.Value)
	}
	return b
}

func appendVarintField(b []byte, num protowire.Number, v uint64) []byte {
	if v == 0 {
		return b
	}
	return protowire.AppendVarint(protowire.AppendTag(b, num, protowire.VarintType), v)
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	if s == "" {
		return b
	}
	return protowire.AppendString(protowire.AppendTag(b, num, protowire.BytesType), s)
}

func sizeString(num protowire.Number, s string) int {
	if s == "" {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeBytes(len(s))
}

func sizeVarint(num protowire.Number, v uint64) int {
	if v == 0 {
		return 0
	}
	return protowire.SizeTag(num) + protowire.SizeVarint(v)
}

// Decode reads an identity_log record value of either version. The op's
// property values are windows of one copy of b, so b may be reused. An
// error wrapping ErrVersion (a *VersionError) is a record of a later
// version; any other error is a record that is not an op.
func Decode(b []byte) (unionfind.Op, error) {
	if len(b) > 0 && b[0] == '{' {
		return decodeOpJSON(b)
	}
	// Version 2 and later: the version is the first field.
	num, typ, n := protowire.ConsumeTag(b)
	if n < 0 || num != fVersion || typ != protowire.VarintType {
		return unionfind.Op{}, errors.New("oplog: decode identity op: not an op: no version field first")
	}
	v, m := protowire.ConsumeVarint(b[n:])
	switch {
	case m < 0:
		return unionfind.Op{}, fmt.Errorf("oplog: decode identity op: version: %w", protowire.ParseError(m))
	case v > VersionLifecycle && v <= MaxVersion:
		return unionfind.Op{}, &VersionError{Version: v}
	case v != VersionProto && v != VersionLifecycle:
		return unionfind.Op{}, fmt.Errorf("oplog: decode identity op: not an op: protobuf version %d", v)
	}
	op, err := decodeOpProto(append([]byte(nil), b...), v)
	if err != nil {
		return unionfind.Op{}, fmt.Errorf("oplog: decode identity op: %w", err)
	}
	op.Sealed = op.KeyID != 0
	return op, nil
}

func decodeOpJSON(b []byte) (unionfind.Op, error) {
	var head struct {
		V *int64 `json:"v"`
	}
	if err := json.Unmarshal(b, &head); err != nil {
		return unionfind.Op{}, fmt.Errorf("oplog: decode identity op: %w", err)
	}
	switch v := head.V; {
	case v == nil:
		return unionfind.Op{}, errors.New("oplog: decode identity op: not an op: JSON without a version")
	case *v > VersionLifecycle && *v <= MaxVersion:
		return unionfind.Op{}, &VersionError{Version: uint64(*v)}
	case *v != VersionJSON:
		return unionfind.Op{}, fmt.Errorf("oplog: decode identity op: not an op: JSON version %d", *v)
	}
	var r opRecord
	if err := json.Unmarshal(b, &r); err != nil {
		return unionfind.Op{}, fmt.Errorf("oplog: decode identity op: %w", err)
	}
	// Version 1 never sealed values; a record that claims a key id is
	// held to the same rule as version 2 (Apply refuses it unopened).
	r.Sealed = r.KeyID != 0
	return r.Op, nil
}

// errOpField is a malformed protobuf op.
type errOpField struct {
	num  protowire.Number
	what string
}

func (e errOpField) Error() string { return fmt.Sprintf("field %d: %s", e.num, e.what) }

// decodeOpProto decodes version 2. Unknown fields are skipped, so a later
// version-2 writer may add fields; a known field of the wrong wire type, and
// a version other than 2, are refused.
func decodeOpProto(b []byte, want uint64) (op unionfind.Op, err error) {
	version := uint64(0)
	err = eachField(b, func(f field) error {
		switch {
		case f.typ == protowire.VarintType && isVarintField(f.num):
			switch f.num {
			case fVersion:
				version = f.u
			case fKind:
				if f.u > 255 {
					return errOpField{f.num, fmt.Sprintf("kind %d out of range", f.u)}
				}
				op.Kind = unionfind.OpKind(f.u)
			case fSrcPartition:
				op.Source.Partition = int32(f.u)
			case fSrcOffset:
				op.Source.Offset = int64(f.u)
			case fSrcIndex:
				op.Source.Index = uint32(f.u)
			case fTimestamp:
				op.Timestamp = int64(f.u)
			case fBlock:
				op.Block = f.u != 0
			case fNoProperties:
				op.NoProperties = f.u != 0
			case fGen:
				if f.u > math.MaxUint32 {
					return errOpField{f.num, fmt.Sprintf("generation %d out of range", f.u)}
				}
				op.Gen = uint32(f.u)
			case fKeyID:
				op.KeyID = f.u
			}
		case f.typ == protowire.BytesType && isBytesField(f.num):
			switch f.num {
			case fSrcTopic:
				op.Source.Topic = string(f.b)
			case fTeam:
				op.Team = string(f.b)
			case fDistinctID:
				op.DistinctID = string(f.b)
			case fEventUUID:
				op.EventUUID = string(f.b)
			case fMerge:
				m, err := decodeMerge(f.b)
				if err != nil {
					return errOpField{f.num, err.Error()}
				}
				op.Merge = &m
			case fSet, fSetOnce:
				kv, err := decodeKV(f.b)
				if err != nil {
					return errOpField{f.num, err.Error()}
				}
				if f.num == fSet {
					op.Set = append(op.Set, kv)
				} else {
					op.SetOnce = append(op.SetOnce, kv)
				}
			case fUnset:
				op.Unset = append(op.Unset, string(f.b))
			case fSplitIDs:
				op.SplitIDs = append(op.SplitIDs, string(f.b))
			case fPersonID:
				if len(f.b) != len(op.PersonID) {
					return errOpField{f.num, fmt.Sprintf("person id of %d bytes, want %d", len(f.b), len(op.PersonID))}
				}
				copy(op.PersonID[:], f.b)
			}
		case isVarintField(f.num) || isBytesField(f.num):
			return errOpField{f.num, fmt.Sprintf("wire type %d", f.typ)}
		}
		return nil
	})
	if err != nil {
		return unionfind.Op{}, err
	}
	if version != want { // Decode checked the first; a second differs
		return unionfind.Op{}, fmt.Errorf("version %d after version %d", version, want)
	}
	return op, nil
}

// field is one protobuf field: its number, wire type, and value — u for a
// varint, b (a window of the input) for a length-delimited field; other
// wire types' values are skipped.
type field struct {
	num protowire.Number
	typ protowire.Type
	u   uint64
	b   []byte
}

// eachField calls fn with every field of the message b, in order, and stops
// at fn's first error or at malformed input.
func eachField(b []byte, fn func(field) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return fmt.Errorf("tag: %w", protowire.ParseError(n))
		}
		b = b[n:]
		f := field{num: num, typ: typ}
		switch typ {
		case protowire.VarintType:
			f.u, n = protowire.ConsumeVarint(b)
		case protowire.BytesType:
			f.b, n = protowire.ConsumeBytes(b)
		default:
			n = protowire.ConsumeFieldValue(num, typ, b)
		}
		if n < 0 {
			return errOpField{num, protowire.ParseError(n).Error()}
		}
		b = b[n:]
		if err := fn(f); err != nil {
			return err
		}
	}
	return nil
}

func isVarintField(num protowire.Number) bool {
	switch num {
	case fVersion, fKind, fSrcPartition, fSrcOffset, fSrcIndex, fTimestamp, fBlock, fNoProperties, fGen, fKeyID:
		return true
	}
	return false
}

func isBytesField(num protowire.Number) bool {
	switch num {
	case fSrcTopic, fTeam, fDistinctID, fEventUUID, fMerge, fSet, fSetOnce, fUnset, fPersonID, fSplitIDs:
		return true
	}
	return false
}

func decodeMerge(b []byte) (m unionfind.Merge, err error) {
	err = eachField(b, func(f field) error {
		switch {
		case f.num == fMergeOther && f.typ == protowire.BytesType:
			m.Other = string(f.b)
		case f.num == fMergeGuarded && f.typ == protowire.VarintType:
			m.Guarded = f.u != 0
		case f.num == fMergeRule && f.typ == protowire.VarintType:
			if f.u > math.MaxUint8 {
				return fmt.Errorf("merge rule %d out of range", f.u)
			}
			m.Rule = unionfind.Rule(f.u)
		}
		return nil
	})
	return m, err
}

// decodeKV decodes a KV; its value is a window of b.
func decodeKV(b []byte) (kv unionfind.KV, err error) {
	err = eachField(b, func(f field) error {
		switch {
		case f.num == fKVKey && f.typ == protowire.BytesType:
			kv.Key = string(f.b)
		case f.num == fKVValue && f.typ == protowire.BytesType:
			kv.Value = json.RawMessage(f.b[:len(f.b):len(f.b)])
		}
		return nil
	})
	return kv, err
}

// Package oplog is the codec of identity_log's records: the identity op
// (unionfind.Op) that a partition worker logs and every applier replays.
//
// Two versions, both readable forever (identity_log is the source of truth
// and is replayed from its start):
//
//   - version 1, JSON: {"v":1,"kind":1,"src":{...},"team":...}; the first
//     byte is '{'. No longer written.
//   - version 2, protobuf (oplog.proto, message Op), written since: field 1
//     is the version, so a record starts with the bytes 0x08 0x02. It is
//     encoded with protowire (the protobuf module's wire-format package)
//     rather than generated code, because the hot path builds one per
//     identity event and a hand-laid message costs one allocation.
//     TestProtoMatchesCodec pins the codec's field numbers, names and wire
//     types to oplog.proto, so the schema and the code cannot drift.
//
// Issue 14 added optional fields to version 2 (Merge.rule; block,
// split_ids, no_properties, gen, key_id as fields 17–21). When key_id is
// not 0 the op's Set and SetOnce values are sealed: each KV.value holds the
// AES-256-GCM ciphertext package shred made, not JSON. Decode sets
// Op.Sealed exactly when the record names a key id; shred.Open turns the
// values back into JSON before the op is applied (unionfind.Graph.Apply
// refuses an op whose KeyID is not 0).
package oplog

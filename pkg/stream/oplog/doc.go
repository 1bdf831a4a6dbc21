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
package oplog

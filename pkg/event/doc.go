// Package event decodes and normalises capture events (docs/SEMANTICS.md §1–2),
// classifies them for the identity graph (§4), and encodes the
// person-stamped event the resolver emits (§6).
//
// It imports only the standard library and github.com/google/uuid, and never
// builds a JSON tree: a small validating scanner finds the values Decode
// needs; everything else, property values included, stays raw bytes
// (json.RawMessage) in a private copy of the record.
//
// # Order of checks
//
// Decode checks a record in this order and stops at the first failure, so
// a record that fails several checks is dead-lettered with the first:
//
//  1. size: len(value) > Options.MaxEventBytes → event_too_large (before
//     any parsing)
//  2. JSON: not a JSON object, an envelope whose data is not a JSON object,
//     or properties present but neither an object nor null → invalid_json
//  3. team → missing_team, then invalid_team (over MaxTeamBytes bytes or
//     a control character), then, with a team map (Options.Teams),
//     unknown_team
//  4. distinct_id → invalid_distinct_id (warning distinct_id_truncated)
//  5. uuid → invalid_uuid
//  6. event name → invalid_event_name
//  7. timestamp (warnings only: invalid_timestamp, timestamp_in_future)
//  8. $process_person_profile (warning invalid_process_person_profile),
//     then a personless $identify / $create_alias / $merge_dangerously
//     with its merge key → identity_event_without_person_processing
//  9. $set / $set_once merging and $unset (never fails)
//
// This is the order of the table in docs/SEMANTICS.md §1, with its last two rows
// (size, JSON) first because nothing else can be read before them.
//
// # Choices where the spec was silent (listed in docs/SEMANTICS.md §1 too)
//
// Envelopes. A record is an envelope when its top-level "data" is a JSON
// string; the event is that string parsed. Every envelope member that is
// present and not null overrides the event's own (uuid, distinct_id and
// token as §1 says; also ip, now, sent_at and anything else, as PostHog's
// ingestion does). The team of an envelope is its own token and nothing
// else (§1): data's team_id, token, api_key, $token and properties.token
// are never read for it, and data's team_id, api_key and $token are not
// passed on to the stamped event either (they are the client's claims; the
// envelope's own members pass on as usual). A "data" that is not a string is an ordinary member;
// a string "data" inside the event is dropped (passed on, it would make the
// stamped event look like an envelope). Only one level is unwrapped.
//
// Null is absent. Wherever a field has fallbacks or can be overridden, a
// JSON null counts as absent. A repeated key: the last one wins, as in
// encoding/json.
//
// Team. A candidate counts when it is a string that is not empty or
// whitespace only (taken untrimmed) or an integer; anything else (null, "",
// 1.5, true, {}) is passed over for the next candidate. The team found is
// then checked, not passed over: more than MaxTeamBytes (200) bytes, or a
// control character — Unicode category Cc: C0 U+0000–U+001F, DEL U+007F,
// C1 U+0080–U+009F — is invalid_team. With a team map (TeamMap) the team is
// looked up last: a token becomes its team id, a team id is kept, anything
// else is unknown_team.
//
// distinct_id. The first candidate present and not null is used; if it is
// unusable the record is rejected rather than falling back. An id whose
// first 200 characters are whitespace is rejected too: the cut would leave
// a blank id. Booleans are
// rejected like objects and arrays (as PostHog's capture does). Whitespace
// means unicode.IsSpace. Length is counted in characters = Unicode code
// points (Go runes), not bytes or UTF-16 units. Strings with invalid UTF-8
// or unpaired surrogate escapes have them replaced by U+FFFD (as
// encoding/json does). A number becomes the exact decimal value of its
// literal in plain positional notation, never via float64: 23, 23.0 and
// 2.3e1 are "23", 1e21 is "1000000000000000000000", 1.50 is "1.5" (see
// numberString; a literal whose expansion would exceed 1024 bytes is kept
// as written).
//
// uuid. Any form uuid.Parse accepts (canonical, braces, urn:uuid:, 32 hex
// digits, any case); written back canonical lower-case. "" is invalid; null
// is absent. A derived uuid is UUIDv5(EventNamespace,
// "<topic>:<partition>:<offset>"), see DeriveUUID.
//
// Event name. Any non-empty string, whitespace included.
//
// Timestamp. RFC 3339 strictly (a time zone is required; "t"/"z" accepted;
// no leap seconds). timestamp, sent_at, now and offset (a number of
// milliseconds) that are present but unusable each raise invalid_timestamp
// and count as absent; a time that would fall outside years 0000–9999 is
// unusable. The sent_at used is the envelope's if set, else the event's.
// Offset is only used when there is no usable timestamp. With no timestamp,
// no now and no Kafka record time, the processing time is used.
//
// $set / $set_once. Only objects are merged; a non-object at the top level
// is ignored, and a non-object properties.$set is left alone unless a
// top-level object replaces it. The merged object keeps the key order of
// properties.$set, then the new top-level keys. $unset is read from
// properties only: an array (its string elements) or an object (its keys,
// sorted).
//
// Merge ids. $anon_distinct_id is turned into a string: strings as they
// are, numbers as above, null → "null", true → "true", false → "false"
// (what JavaScript's String() gives); an object becomes "[object Object]"
// (also String()'s answer) and an array "" — both ids §4 calls illegal, so
// neither can join two persons. MergeOther is not
// truncated or NUL-replaced: §4's illegal-id rules see it as sent.
//
// # Output
//
// See Event.AppendStamped for the fields written and the members dropped.
// Times are written in UTC as RFC 3339 with no fraction when whole seconds,
// else milliseconds when exact, else micro- or nanoseconds.
//
// # Concurrency and reuse
//
// A Decoder is safe for concurrent use. An Event is a plain value owned by
// whoever holds it; Decode does not retain its input (unless
// Options.NoCopy, below). A caller done with an
// Event may hand it back with Event.Release, so that a later Decode reuses
// its Properties map and key order. That map is the largest allocation of
// Decode; with it reused, an ordinary event costs one allocation, the
// private copy of the record (see BenchmarkDecodeStampRelease).
//
// # Fast path
//
// A caller that does not need the Properties map (it classifies, stamps and
// encodes events, as the resolver's pipeline does) sets
// Options.LazyProperties: Decode then keeps the properties as a list in
// output order, and AppendStamped copies the input's properties object as
// it is when nothing in it changes. Event.Property and Event.PropertiesMap
// read them. A caller whose record values are read-only and outlive the
// events (franz-go's records, kept until their batch is done) also sets
// Options.NoCopy, and Decode reads the value in place instead of copying
// it. With both, and Event.Release, an ordinary event costs no allocation.
// The output is byte for byte the same (FuzzDecodeOptions); see
// BenchmarkDecodeStampFast.
package event

// Package lifecycle is the admin command record of docs/SEMANTICS.md §8: a
// request to delete or split a person, written to the internal topic
// identity_commands (by `resolver persons delete|split` or the admin
// server's DELETE /v1/persons) and turned into an identity op by the
// partition worker that consumes it.
//
// A command is a JSON object:
//
//	{"v":1,"command":"delete","team":"42","distinct_ids":["user-1"],"block":true,
//	 "request_id":"5f0c…","requested_at":"2026-12-05T08:00:00.000Z"}
//	{"v":1,"command":"split","team":"42","distinct_ids":["anon-1","anon-2"],
//	 "no_properties":false,"request_id":"…"}
//
// Decode bounds and checks every field before anything of it becomes an op:
// a record that is not a valid command is dead-lettered invalid_command by
// the worker, with a reason a person can act on. The request id is echoed
// as the event_uuid of the op's person_merges row, which is how the
// requester learns the outcome.
//
// The topic is internal: whoever can write it can delete persons, so only
// the resolver and its operators may (see the README's ACLs). The team of a
// command is the operator's to name; a team map (teams.file), when set,
// must know it, like the team of an event.
package lifecycle

// Package admin is the resolver's admin HTTP server (admin.addr, default
// 127.0.0.1:9464): health, readiness, metrics, and read-only lookups of the
// local replica.
//
//	GET /healthz                           200 while the process serves HTTP; never needs the token
//	GET /readyz                            200 while the instance is ready: started (applier caught
//	                                       up with identity_log and billing view with billing_usage,
//	                                       workers in the group), healthy, and its replica within
//	                                       readiness.max_lag of identity_log's end — now, not only
//	                                       at start-up; else 503 with the reason; 503 once shutdown
//	                                       began. The body: {"status": "ready" | "not_ready" |
//	                                       "stopping", "reason", "lag_seconds", "applied_offsets"}
//	GET /metrics                           Prometheus text format (internal/metrics lists the metrics)
//	GET /v1/persons?team=T&distinct_id=D   the person of a distinct_id, as JSON
//	GET /v1/billing?team=T&month=YYYY-MM   the billing report, the JSON of
//	                                       `resolver billing report --format json`; both filters optional
//	GET /v1/persons/lineage?team=T&distinct_id=D[&other=E]  how D came to be in its person
//	DELETE /v1/persons?team=T&distinct_id=D[&block=true]    delete D's person (docs/SEMANTICS.md §8)
//	POST /v1/persons/split?team=T&distinct_id=D[&distinct_id=E…][&no_properties=true]
//	                                       move the named ids out of their person into a new one
//	GET /ui/                               the person explorer (internal/explorer); its static
//	                                       files need no token, the data it reads does
//
// Errors are JSON objects with an "error" member: 400 for a missing, empty,
// repeated or unknown query parameter, or a bad month (the message names the
// parameter); 401 without the bearer token; 404 for an unknown path and for
// a distinct_id without a stored person; 405 for a method other than GET or
// HEAD (DELETE /v1/persons and POST /v1/persons/split aside); 409 for a
// refused split; 503 while a dependency is unavailable or the instance is
// stopping.
//
// # Split
//
// POST /v1/persons/split writes the command `resolver persons split`
// writes (PersonSplitter, which cmd/resolver's PersonCommands implements)
// and waits up to 10s for its outcome: 200 with the new person, 409 with
// the refusal's code and words (naming every id of the person, ids of
// different persons, an id without a person), 202 "pending" when no
// instance applied it in time. distinct_id is the one parameter that may
// repeat; the first id names the new person.
//
// # Explorer
//
// /ui/ serves the person explorer: search by team and distinct_id, the
// person's ids and properties with their times, its lineage as an SVG
// graph, split and delete behind a confirmation, and the billing report.
// Its files are embedded (no CDN) and public, with a strict
// Content-Security-Policy; the page sends the token it is given with every
// call to /v1/, which checks it as for any other client.
//
// # Persons
//
// /v1/persons answers with state.PersonView, the JSON of `resolver lookup
// --format json`: the person's id, created_at, is_identified, version,
// properties (each with the time of the event that set it) and every
// distinct_id of the person with its row version.
//
// A distinct_id that no identity event has claimed has no stored person: its
// events are stamped with its implicit person, whose id is derived from the
// team and the id (docs/SEMANTICS.md §3), and which has no properties, creation
// time or version to show. /v1/persons answers such an id with 404 — "no
// stored person" — and puts the implicit person id in the error body
// ("person_id", with "implicit": true), so a caller can still match it
// against stamped events. An id whose person was deleted is implicit again
// and answers the same way.
//
// # Lineage
//
// /v1/persons/lineage?team=T&distinct_id=A answers with state.LineageView,
// the JSON of `resolver explain --format json`: the recorded steps that
// moved A (merges, splits, deletions, docs/SEMANTICS.md §8), the steps that
// grew its person and the refused merges that named it. With &other=B it
// answers with state.PathView: the steps that put A and B in one person, or
// the refusals and the deletion or split that keep them apart. Both answer
// 200 for an id without a stored person (its person may have been
// deleted); other, when given, must not be empty and is bounded like
// distinct_id.
//
// # Authentication
//
// With Config.Token set, every endpoint except /healthz and /ui/ requires the header
// "Authorization: Bearer <token>" (compared in constant time); /healthz
// stays open for liveness probes and tells nothing. Without a token the
// server is open to every process of this host, so it listens only on a
// loopback address: Listen refuses any other (ErrNoToken), and
// cmd/resolver's config validation refuses such an admin.addr before
// anything starts. The token is compared in constant time (both sides
// hashed first, so neither content nor length leaks through timing).
//
// # Limits
//
// A request's line and headers are bounded by 16 KiB (431), its query
// string by 8 KiB (414), its body by 1 KiB (413; no endpoint reads one),
// team by 200 bytes and distinct_id (and other) by 1024 (400). Reading the headers
// must finish in 5s and the whole request in 10s, writing the answer in
// 30s, and an idle keep-alive connection is closed after 60s.
//
// # Logging
//
// The server logs "admin listening" with the bound address (Config.Addr may
// have port 0), and failures of lookups at error level. Distinct ids in its
// log lines are hashed unless Config.LogIDs is set (log.redact: false); see
// internal/redact. Requests are not logged.
package admin

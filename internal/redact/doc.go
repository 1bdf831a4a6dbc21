// Package redact keeps personal data out of log lines and error text.
//
// Distinct ids (and anything else a person could be recognised by) may
// appear in a log line only through an IDs value: with redaction on (the
// zero value, config key log.redact, default true) an id is replaced by
// "hmac:" and the first 16 hex digits of its HMAC-SHA256 under the
// process's key, which is stable, so lines about one id can still be
// correlated, and short; with redaction off it is printed as is. Property
// values are never logged at all.
//
// # The key
//
// The hash is keyed (log.redact_key, set once at start-up with SetKey), so
// that it cannot be reversed by hashing guesses: an unkeyed digest of a
// guessable id (an e-mail address, a phone number, a user id counted up
// from 1) is recovered by trying candidates, which the SHA-256 used before
// allowed. Without a configured key each process draws a random one at
// start: hashes then correlate lines within one process's lifetime only,
// not across restarts or instances. Configure the same secret everywhere
// to correlate across them, and treat it like a password: with it, the
// guessing attack is back.
//
// # Length
//
// 16 hex digits are 64 bits. Two different ids give the same hash with
// probability about n²/2⁶⁵ among n ids: for a million ids in one log, 3 in
// 100 million, where the 48 bits used before gave 2 in 1,000. A hash names
// an id in a log, so a collision would attribute one person's lines to
// another; 64 bits keep that out of reach while staying short to read.
//
// # Errors
//
// Errors should not carry ids in their text at all (pkg/state names a key
// by its kind and team, never its distinct_id). IDs.Error is the net for
// errors made elsewhere that may still embed one: it replaces the given ids
// where they occur as whole tokens — never inside a longer word, so a short
// id like "a" does not mangle the rest of the message.
//
// It is a package of its own, not a helper inside one of its users,
// because several components log ids (pkg/stream, internal/admin, pkg/state)
// and must hash them the same way for their lines to be correlated.
package redact

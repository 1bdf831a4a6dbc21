// Package redact keeps personal data out of log lines.
//
// Distinct ids (and anything else a person could be recognised by) may
// appear in a log line only through an IDs value: with redaction on (the
// zero value, config key log.redact, default true) an id is replaced by
// "sha256:" and the first 12 hex digits of its SHA-256, which is stable, so
// lines about one id can still be correlated, and short; with redaction off
// it is printed as is. Property values are never logged at all.
//
// The hash is a pseudonym, not encryption: an unsalted 48-bit digest of a
// guessable id (an e-mail address) can be recovered by trying candidates.
// It keeps ids out of log pipelines and casual reading, which is the point
// of log.redact; logs must still be handled as internal data.
//
// It is a package of its own, not a helper inside one of its users, because
// two components log ids (pkg/stream and pkg/admin) and must hash them the
// same way for their lines to be correlated.
package redact

// Package shred is crypto-shredding for identity_log (docs/SEMANTICS.md
// §8, "Erasure"): the property values of an op are encrypted under a data
// key of (team, distinct_id, generation) before the op is logged, and the
// keys live on their own compacted topic, identity_keys. Deleting a person
// tombstones its keys; from then on no replica, rebuild or reader of
// identity_log can recover the values, though the ops stay in the log.
//
// # Values
//
// Seal encrypts the Set and SetOnce values of a unionfind.Op in place of
// the clear ones (AES-256-GCM from the standard library, a fresh random
// nonce per value; each value is nonce || ciphertext || tag, Overhead bytes
// longer). Each value's additional data binds it to the op's team,
// distinct_id and generation (Op.Gen), to the key id (Op.KeyID), to its list
// ($set or $set_once) and to its property key, so a value copied into
// another op, id, generation or property does not open. Property keys and
// Unset stay in clear.
//
// The op states, which package oplog and unionfind.Graph.Apply follow:
//
//   - in clear: KeyID 0, Sealed false;
//   - sealed (Seal; oplog.Decode of a record with a key id): KeyID != 0,
//     Sealed — Validate accepts it, Apply refuses it;
//   - opened (Open) or erased (Erase, when the key is tombstoned or cannot
//     be had): KeyID 0, Sealed — values JSON again, or none and
//     ValuesErased. Apply accepts it.
//
// Open is all or nothing and never panics on hostile bytes; its errors
// (ErrOpen) name the property key and key id, never a value.
//
// # Keys
//
// A data key (Key) is 32 bytes from crypto/rand. Ring keeps the keys of
// identity_keys in memory: it reads the topic from its start,
// read_committed, and answers Get with the key and Present, Tombstoned
// or Unknown. Create writes a new key under a random key id and returns
// once the broker has acknowledged it, so an op sealed with it is logged
// only after its key; two workers may create keys for one generation at
// once, and both are kept. WaitFor waits, within a timeout, until the ring
// has read past the topic's end as of the call, so a key written before
// is seen: Unknown without an error then means no such key exists (a
// forged op), while an error means the ring could not tell. Tombstone
// writes a null value for every key id of a generation; TombstoneRecords
// gives those records to a caller that writes them in its own transaction.
// Records a ring would not write (a bad key or value, a wrong size, a key
// wrapped under another master key) are counted in Stats and skipped.
//
// # The applier's steps
//
// For an op with KeyID != 0, before Apply: if the store says the key of
// (Team, DistinctID, Gen) is erased, Erase. Otherwise WaitFor the key:
// Present → Open (an ErrOpen error means a forged or altered op: Erase, as
// every replica will); Tombstoned, or Unknown with a nil error → Erase; an
// error → retry later, never Erase (the ring could not read to the end).
// A worker seals after Create returns and logs the op after that.
//
// # Record format
//
// The record key names one data key, with every string length-prefixed so
// that teams and ids holding ':' cannot collide:
//
//	<len(team)>:<team>:<len(distinct_id)>:<distinct_id>:<generation>:<key id>
//
// lengths in bytes, numbers in decimal without leading zeros (the one
// spelling a reader accepts), for example "7:phc_abc:7:user:42:0:9182736450".
// The value is a format byte and the key: 0x00 and the 32 bytes raw, or
// 0x01 and the key wrapped by the master key (AES-256-GCM, 12-byte nonce,
// 16-byte tag, the record key as additional data: 61 bytes). A null value
// is a tombstone: the key is erased.
//
// # Master key
//
// With a master key (ParseMasterKey: 64 hex digits, from the instances'
// configuration, never from Kafka) data keys are written wrapped. Without
// one they are written raw, which protects only against readers of
// identity_log: whoever can also read identity_keys holds every key not yet
// erased. Raw keys stay readable after a master key is configured.
package shred

package state

import (
	"fmt"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// trimChunk is how many outbox keys one TrimOutbox transaction deletes.
const trimChunk = 4096

// OutboxSpan is a range of source offsets of one partition, both ends
// included.
type OutboxSpan struct {
	Partition int32
	From, To  int64
}

// OutboxSpans calls fn with the rows stored by Tx.PutOutbox for every
// source of each span's partition with From <= offset <= To: span after
// span, each in source order, all in one read-only snapshot (a batch reads
// all its partitions' rows with one engine transaction, not one each).
// Sources whose op produced nothing have no rows and are not visited. fn
// must not call Update.
func (s *Store) OutboxSpans(topic string, spans []OutboxSpan, fn func(unionfind.Source, unionfind.Result) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	if len(spans) == 0 {
		return nil
	}
	return s.eng.view(func(r kvReader) error {
		var prefix, start []byte
		for _, sp := range spans {
			prefix = outboxPrefix(prefix[:0], topic, sp.Partition)
			start = appendI64(append(start[:0], prefix...), sp.From)
			err := r.scan(prefix, start, false, func(key, val []byte) (bool, error) {
				kr := keyReader{b: key[len(prefix):], ok: true}
				src := unionfind.Source{Topic: topic, Partition: sp.Partition, Offset: kr.i64(), Index: kr.u32()}
				if !kr.done() {
					return false, wrapKey(corrupt("outbox key", "bad source"), key)
				}
				if src.Offset > sp.To {
					return false, nil
				}
				res, err := decodeResult(val)
				if err != nil {
					return false, wrapKey(err, key)
				}
				return true, fn(src, res)
			})
			if err != nil {
				return err
			}
		}
		return nil
	})
}

// TrimOutbox deletes the outbox rows of the partition with offset < below,
// once the worker's transaction has committed those source offsets. It
// deletes in chunks of transactions: an interrupted trim leaves a prefix
// deleted, and the next trim finishes it.
func (s *Store) TrimOutbox(topic string, partition int32, below int64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	prefix := outboxPrefix(nil, topic, partition)
	for {
		var keys [][]byte
		err := s.eng.view(func(r kvReader) error {
			return r.scan(prefix, nil, true, func(key, _ []byte) (bool, error) {
				kr := keyReader{b: key[len(prefix):], ok: true}
				if off := kr.i64(); !kr.ok || off >= below {
					return false, nil
				}
				keys = append(keys, append([]byte(nil), key...))
				return len(keys) < trimChunk, nil
			})
		})
		if err != nil || len(keys) == 0 {
			return err
		}
		err = s.eng.update(func(w kvWriter) error {
			for _, k := range keys {
				if err := w.del(k); err != nil {
					return wrapKey(err, k)
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("state: trim outbox %s/%d below %d: %w", topic, partition, below, err)
		}
		if len(keys) < trimChunk {
			return nil
		}
	}
}

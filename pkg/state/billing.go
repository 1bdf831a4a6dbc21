package state

import (
	"fmt"
	"math"
)

// BillingDelta is a change to one billing total: Count events of Class
// ("identified", "anonymous", …) for Team in Month ("2026-11").
type BillingDelta struct {
	Team, Month, Class string
	Count              int64
}

// ApplyBilling is FoldBilling for callers that do not need to know which
// deltas were refused (tests, tools): they are skipped all the same.
func (s *Store) ApplyBilling(deltas []BillingDelta, offsets map[int32]int64) error {
	_, err := s.FoldBilling(deltas, offsets)
	return err
}

// FoldBilling folds deltas into the billing totals and records the next
// billing_usage offset of each partition in offsets, in one transaction, so
// totals and offsets never disagree and a replay from BillingOffsets is
// exact. The billing view is its only writer.
//
// Every add is checked: a delta with a negative count, or one that would
// carry its total past math.MaxInt64, is skipped — that delta only, the
// others are folded — and its index in deltas is returned in refused, in
// order. Whether a delta is refused depends only on the deltas folded
// before it, so every replica refuses the same ones. A delta whose key is
// over MaxKeyBytes (a huge team) is refused the same way.
func (s *Store) FoldBilling(deltas []BillingDelta, offsets map[int32]int64) (refused []int, err error) {
	if s.closed.Load() {
		return nil, ErrClosed
	}
	err = s.eng.update(func(w kvWriter) error {
		refused = refused[:0]
		for i, d := range deltas {
			k := billingKey(nil, d.Team, d.Month, d.Class)
			if len(k) > MaxKeyBytes {
				refused = append(refused, i)
				continue
			}
			var cur int64
			_, err := w.get(k, func(v []byte) (err error) {
				cur, err = decodeI64("billing total", v)
				return err
			})
			if err != nil {
				return wrapKey(err, k)
			}
			if d.Count < 0 || cur > math.MaxInt64-d.Count {
				refused = append(refused, i)
				continue
			}
			if err := w.set(k, encodeI64(cur+d.Count)); err != nil {
				return wrapKey(err, k)
			}
		}
		for p, next := range offsets {
			k := billingOffsetKey(nil, p)
			if err := w.set(k, encodeI64(next)); err != nil {
				return wrapKey(err, k)
			}
		}
		return nil
	})
	if err != nil {
		if IsTxnTooBig(err) {
			return nil, fmt.Errorf("%w: billing: %w", ErrTxnTooBig, err)
		}
		return nil, fmt.Errorf("state: apply billing: %w", err)
	}
	return refused, nil
}

// BillingTotals calls fn for every billing total, in key order (by team,
// then month, then class). fn runs inside a read-only snapshot.
func (s *Store) BillingTotals(fn func(team, month, class string, n int64) error) error {
	if s.closed.Load() {
		return ErrClosed
	}
	return s.eng.view(func(r kvReader) error {
		return r.scan(tagBilling, nil, false, func(key, val []byte) (bool, error) {
			kr := newKeyReader(key, tagBilling)
			team, month, class := kr.str(), kr.str(), kr.rest()
			if !kr.ok {
				return false, wrapKey(corrupt("billing key", "bad key"), key)
			}
			n, err := decodeI64("billing total", val)
			if err != nil {
				return false, wrapKey(err, key)
			}
			return true, fn(team, month, class, n)
		})
	})
}

// BillingOffsets returns, per billing_usage partition, the next offset to
// fold (as committed by ApplyBilling).
func (s *Store) BillingOffsets() (map[int32]int64, error) {
	return s.partitionOffsets(tagBillOff, "billing offset")
}

package state

import "fmt"

// BillingDelta is a change to one billing total: Count events of Class
// ("identified", "anonymous", …) for Team in Month ("2026-11").
type BillingDelta struct {
	Team, Month, Class string
	Count              int64
}

// ApplyBilling folds deltas into the billing totals and records the next
// billing_usage offset of each partition in offsets, in one transaction, so
// totals and offsets never disagree and a replay from BillingOffsets is
// exact. The billing view is its only writer.
func (s *Store) ApplyBilling(deltas []BillingDelta, offsets map[int32]int64) error {
	if s.closed.Load() {
		return ErrClosed
	}
	err := s.eng.update(func(w kvWriter) error {
		for _, d := range deltas {
			k := billingKey(nil, d.Team, d.Month, d.Class)
			var cur int64
			_, err := w.get(k, func(v []byte) (err error) {
				cur, err = decodeI64("billing total", v)
				return err
			})
			if err != nil {
				return wrapKey(err, k)
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
			return fmt.Errorf("%w: billing: %w", ErrTxnTooBig, err)
		}
		return fmt.Errorf("state: apply billing: %w", err)
	}
	return nil
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

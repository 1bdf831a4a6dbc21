package state

import (
	"errors"
	"math"
	"slices"
	"strings"
	"testing"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestBounds runs the write-bound and checked-add rules against every
// engine: a replica must refuse the same writes whatever engine it runs,
// or replicas would diverge (issue 11, item 1: a 70 kB team became a key
// Badger refused, and the applier stopped every instance).
func TestBounds(t *testing.T) {
	for _, ec := range engineCases() {
		t.Run(ec.name, func(t *testing.T) {
			t.Run("key-too-large", func(t *testing.T) { testKeyTooLarge(t, ec.make(t)) })
			t.Run("billing-checked-adds", func(t *testing.T) { testBillingCheckedAdds(t, ec.make(t)) })
		})
	}
}

// A write whose key passes MaxKeyBytes is refused with ErrKeyTooLarge,
// classified by IsInvalidWrite; the transaction it was in writes nothing.
func testKeyTooLarge(t *testing.T, s *Store) {
	team := strings.Repeat("T", 70_000)
	err := s.Update(func(tx Tx) error {
		if err := tx.PutMapping("1", "ok", unionfind.Mapping{PersonID: pidA}); err != nil {
			return err
		}
		return tx.PutMapping(team, "a", unionfind.Mapping{PersonID: pidA})
	})
	if !errors.Is(err, ErrKeyTooLarge) || !IsInvalidWrite(err) {
		t.Fatalf("err = %v, want ErrKeyTooLarge classified by IsInvalidWrite", err)
	}
	view(t, s, func(tx Tx) error {
		if _, ok, err := tx.Mapping("1", "ok"); err != nil || ok {
			t.Fatalf("the refused transaction's other write is stored (ok %v, err %v)", ok, err)
		}
		return nil
	})
	// Just under the bound is written.
	under := strings.Repeat("T", MaxKeyBytes-len(mappingKey(nil, "", "a"))-3)
	update(t, s, func(tx Tx) error { return tx.PutMapping(under, "a", unionfind.Mapping{PersonID: pidA}) })
	if IsInvalidWrite(ErrClosed) || IsInvalidWrite(ErrTxnTooBig) {
		t.Fatal("IsInvalidWrite claims a local error")
	}
}

// FoldBilling refuses a delta that would overflow its total, or has a
// negative count, and folds the others of the same call.
func testBillingCheckedAdds(t *testing.T, s *Store) {
	refused, err := s.FoldBilling([]BillingDelta{
		{Team: "1", Month: "2026-11", Class: "anonymous", Count: math.MaxInt64},
		{Team: "1", Month: "2026-11", Class: "anonymous", Count: math.MaxInt64}, // overflows: refused
		{Team: "2", Month: "2026-11", Class: "anonymous", Count: 5},
		{Team: "1", Month: "2026-11", Class: "anonymous", Count: 1},  // overflows by one: refused
		{Team: "2", Month: "2026-11", Class: "anonymous", Count: -3}, // negative: refused
		{Team: strings.Repeat("T", 70_000), Month: "2026-11", Class: "anonymous", Count: 1},
		{Team: "2", Month: "2026-11", Class: "anonymous", Count: 2},
	}, map[int32]int64{0: 7})
	must(t, err)
	if want := []int{1, 3, 4, 5}; !slices.Equal(refused, want) {
		t.Fatalf("refused %v, want %v", refused, want)
	}
	got := map[string]int64{}
	must(t, s.BillingTotals(func(team, month, class string, n int64) error {
		got[team] = n
		return nil
	}))
	if got["1"] != math.MaxInt64 || got["2"] != 7 || len(got) != 2 {
		t.Fatalf("totals %v", got)
	}
	offs, err := s.BillingOffsets()
	must(t, err)
	if offs[0] != 7 {
		t.Fatalf("offsets %v: the fold's offsets are stored with it", offs)
	}
}

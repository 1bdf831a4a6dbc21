package billing

import (
	"errors"
	"strconv"
)

// Tier is one step of graduated pricing. Tiers are cumulative over a month:
// a tier covers the events numbered above the previous tier's UpTo (0 for the
// first tier) up to and including its own UpTo, and each of those events
// costs UnitPrice.
type Tier struct {
	// UpTo is the monthly event count at which the tier ends, inclusive.
	// 0 means open-ended, and is allowed only for the last tier.
	UpTo int64
	// UnitPrice is the price of one event in this tier; zero or more.
	UnitPrice Money
}

// Tiers is the graduated price list of one class, in ascending order of
// UpTo, ending with an open-ended tier.
type Tiers []Tier

// Validate checks t and returns every problem found, joined (errors.Join),
// each a *ConfigError naming the key (key[i].up_to or key[i].unit_price) and
// the bad value:
//
//   - at least one tier (ErrNoTiers);
//   - no negative unit price (ErrNegativePrice) or bound (ErrTierBound);
//   - each bounded tier ends above the previous one: ending at the same count
//     is ErrTierOverlap, below it ErrTierOrder;
//   - an open-ended tier only last (ErrOpenEndedNotLast), and the last tier
//     open-ended (ErrNoOpenEnded).
//
// key is where the tiers came from, e.g. "billing.tiers.identified".
func (t Tiers) Validate(key string) error {
	if len(t) == 0 {
		return configErr(key, "[]", ErrNoTiers, "")
	}
	var errs []error
	var prev int64 // UpTo of the last bounded tier seen
	prevIdx := -1
	for i, tier := range t {
		at := key + "[" + strconv.Itoa(i) + "]"
		upTo := at + ".up_to"
		if tier.UnitPrice < 0 {
			errs = append(errs, configErr(at+".unit_price", FormatUSD(tier.UnitPrice), ErrNegativePrice, ""))
		}
		switch {
		case tier.UpTo < 0:
			errs = append(errs, configErr(upTo, strconv.FormatInt(tier.UpTo, 10), ErrTierBound, ""))
		case tier.UpTo == 0:
			if i != len(t)-1 {
				errs = append(errs, configErr(upTo, "0", ErrOpenEndedNotLast,
					"tier %d of %d; only the last tier may omit up_to", i, len(t)))
			}
		default:
			v := strconv.FormatInt(tier.UpTo, 10)
			if prevIdx >= 0 && tier.UpTo == prev {
				errs = append(errs, configErr(upTo, v, ErrTierOverlap,
					"tier %d also ends at %d; each up_to must be greater than the one before", prevIdx, prev))
			} else if prevIdx >= 0 && tier.UpTo < prev {
				errs = append(errs, configErr(upTo, v, ErrTierOrder,
					"below %d, where tier %d ends; list tiers in ascending order of up_to", prev, prevIdx))
			}
			if tier.UpTo > prev {
				prev, prevIdx = tier.UpTo, i
			}
			if i == len(t)-1 {
				errs = append(errs, configErr(upTo, v, ErrNoOpenEnded,
					"events above %d would be unpriced", tier.UpTo))
			}
		}
	}
	return errors.Join(errs...)
}

// cost prices a monthly total of n events over t. It assumes t is valid;
// on invalid tiers it never panics, it just skips tiers that cover nothing.
// ok is false if an amount overflows Money.
func (t Tiers) cost(n int64) (total Money, breakdown []TierCost, ok bool) {
	breakdown = make([]TierCost, 0, len(t))
	var from int64
	for _, tier := range t {
		if n <= from {
			break
		}
		if tier.UpTo < 0 || (tier.UpTo > 0 && tier.UpTo <= from) {
			continue // covers nothing (only in tiers that fail Validate)
		}
		in := n - from
		if tier.UpTo > 0 {
			in = min(in, tier.UpTo-from)
		}
		amount, ok := mulEvents(in, tier.UnitPrice)
		if !ok {
			return 0, nil, false
		}
		if total, ok = addMoney(total, amount); !ok {
			return 0, nil, false
		}
		breakdown = append(breakdown, TierCost{
			From: from, UpTo: tier.UpTo, Events: in, UnitPrice: tier.UnitPrice, Amount: amount,
		})
		if tier.UpTo == 0 {
			break
		}
		from = tier.UpTo
	}
	return total, breakdown, true
}

package billing

import (
	"fmt"
	"math"
	"math/bits"
	"strconv"
	"strings"
)

// Money is an exact amount of US dollars, counted in integer nano-dollars
// (1 Money = $0.000000001).
//
// Why nano-dollars in an int64:
//
//   - Exact. The default unit prices have at most seven decimals
//     ($0.0000343 = 34,300 nano-dollars), so every price and every
//     events × price product is an integer; nine decimals leave 100× room for
//     finer custom prices. Micro-dollars cannot hold 0.0000343 ($34.3 µ),
//     and float64 cannot hold it exactly either.
//   - Range. An int64 spans ±$9,223,372,036.85. The most any one event costs
//     under the default tiers beyond 250M events is $0.00001 (10,000 nano), so
//     one class of one team overflows only beyond ~9.2e14 events in a month
//     (350 million events a second, all month). Pico-dollars would overflow
//     1000× sooner (~9.2e11 events), which is within reach of a large
//     customer.
//   - Cheap. A report sums and compares plain integers; math/big.Rat would
//     allocate for every cost and every comparison.
//
// The arithmetic in this package is checked: a product or sum that does not
// fit is reported as ErrOverflow (or flagged in Cost.Overflow), never
// wrapped around.
//
// Money encodes as text (and so as a JSON string) with FormatUSD, and
// decodes with ParsePrice: exact in both directions.
type Money int64

// Units of Money.
const (
	Nanodollar Money = 1
	Cent       Money = 10_000_000
	Dollar     Money = 1_000_000_000
	// MaxMoney is the largest amount Money holds, $9,223,372,036.854775807.
	MaxMoney Money = math.MaxInt64
)

// nanoDigits is the number of decimals Money resolves.
const nanoDigits = 9

// String formats m with FormatUSD.
func (m Money) String() string { return FormatUSD(m) }

// MarshalText encodes m with FormatUSD: "324.40".
func (m Money) MarshalText() ([]byte, error) { return []byte(FormatUSD(m)), nil }

// UnmarshalText decodes an exact decimal (see ParsePrice).
func (m *Money) UnmarshalText(b []byte) error {
	v, err := ParsePrice(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}

// FormatUSD formats m as a plain decimal number of dollars with at least two
// decimals and as many more as m needs to be exact: 324.4 dollars is
// "324.40", a unit price of 34,300 nano-dollars is "0.0000343", one
// nano-dollar is "0.000000001". No currency sign, no thousands separators;
// negative amounts start with "-". ParsePrice(FormatUSD(m)) == m for every m.
func FormatUSD(m Money) string {
	u := uint64(m)
	neg := m < 0
	if neg {
		u = -u // two's complement: exact even for math.MinInt64
	}
	whole, frac := u/uint64(Dollar), u%uint64(Dollar)
	buf := make([]byte, 0, 32)
	if neg {
		buf = append(buf, '-')
	}
	buf = strconv.AppendUint(buf, whole, 10)
	buf = append(buf, '.')
	var digits [nanoDigits]byte
	for i := nanoDigits - 1; i >= 0; i-- {
		digits[i] = byte('0' + frac%10)
		frac /= 10
	}
	n := nanoDigits
	for n > 2 && digits[n-1] == '0' {
		n--
	}
	return string(append(buf, digits[:n]...))
}

// ParsePrice parses an exact decimal number of dollars, such as "0.0000343",
// "0", "12" or "-0.5", into Money. No float is involved.
//
// Accepted: an optional "-", one or more digits, and optionally "." followed
// by one or more digits. Rejected: exponents, "+", a leading or trailing
// ".", spaces, separators, currency signs, more than nine significant
// decimals (finer than a nano-dollar; extra trailing zeros are fine), and
// values beyond the range of Money. Negative values parse (so that
// validation can name them); tiers reject them.
func ParsePrice(s string) (Money, error) {
	m, err := parseDecimal(s)
	if err != nil {
		return 0, fmt.Errorf("billing: %w", err)
	}
	return m, nil
}

// parseDecimal is ParsePrice without the package prefix on its error, for
// use inside a ConfigError.
func parseDecimal(s string) (Money, error) {
	bad := func(reason string) (Money, error) {
		return 0, fmt.Errorf("%w %q: %s", ErrInvalidPrice, s, reason)
	}
	t := s
	neg := strings.HasPrefix(t, "-")
	if neg {
		t = t[1:]
	}
	whole, frac, hasDot := strings.Cut(t, ".")
	if whole == "" || (hasDot && frac == "") || !isDigits(whole) || !isDigits(frac) {
		return bad(`want a plain decimal such as "0.0000343"`)
	}
	if len(frac) > nanoDigits {
		if strings.TrimRight(frac[nanoDigits:], "0") != "" {
			return bad("finer than one nano-dollar (at most 9 decimals)")
		}
		frac = frac[:nanoDigits]
	}
	limit := uint64(math.MaxInt64)
	if neg {
		limit++
	}
	var u uint64
	push := func(d byte) bool {
		hi, lo := bits.Mul64(u, 10)
		lo, carry := bits.Add64(lo, uint64(d-'0'), 0)
		if hi != 0 || carry != 0 || lo > limit {
			return false
		}
		u = lo
		return true
	}
	for i := 0; i < len(whole); i++ {
		if !push(whole[i]) {
			return bad("out of range")
		}
	}
	for i := 0; i < nanoDigits; i++ {
		d := byte('0')
		if i < len(frac) {
			d = frac[i]
		}
		if !push(d) {
			return bad("out of range")
		}
	}
	if neg {
		return Money(-u), nil // -u wraps to MinInt64 exactly when u == 1<<63
	}
	return Money(u), nil
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

// mulEvents returns n × price, or false if it does not fit in Money.
func mulEvents(n int64, price Money) (Money, bool) {
	if n == 0 || price == 0 {
		return 0, true
	}
	p := int64(price)
	r := n * p
	if r/p != n || (n == -1 && p == math.MinInt64) || (p == -1 && n == math.MinInt64) {
		return 0, false
	}
	return Money(r), true
}

// addMoney returns a + b, or false if it does not fit in Money.
func addMoney(a, b Money) (Money, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

// subMoney returns a − b, or false if it does not fit in Money.
func subMoney(a, b Money) (Money, bool) {
	d := a - b
	if (b > 0 && d > a) || (b < 0 && d < a) {
		return 0, false
	}
	return d, true
}

// addCount returns a + b for event counts, or false on overflow.
func addCount(a, b int64) (int64, bool) {
	s := a + b
	if (b > 0 && s < a) || (b < 0 && s > a) {
		return 0, false
	}
	return s, true
}

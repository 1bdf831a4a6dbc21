package billing

import (
	"math"
	"math/big"
	"regexp"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParsePrice(t *testing.T) {
	tests := []struct {
		in   string
		want Money
	}{
		{"0", 0},
		{"0.0", 0},
		{"-0", 0},
		{"1", Dollar},
		{"324.40", 324*Dollar + 40*Cent},
		{"0.0000343", 34_300},
		{"0.000248", 248_000},
		{"0.0000090", 9_000},
		{"0.000000001", 1},
		{"0.0000000010000", 1}, // zeros beyond nine decimals are harmless
		{"007.5", 7*Dollar + 50*Cent},
		{"-0.5", -50 * Cent},
		{"9223372036.854775807", MaxMoney},
		{"-9223372036.854775808", math.MinInt64},
	}
	for _, tt := range tests {
		got, err := ParsePrice(tt.in)
		require.NoError(t, err, tt.in)
		assert.Equal(t, tt.want, got, tt.in)
	}
}

func TestParsePriceRejects(t *testing.T) {
	for _, in := range []string{
		"", "-", ".", ".5", "5.", "+1", " 1", "1 ", "1,000", "$1", "1e-5", "3.43E-05", "0x10",
		"NaN", "Inf", "1.2.3", "--1", "0.0000000001", "0.1234567891",
		"9223372036.854775808", "-9223372036.854775809", "99999999999999999999",
	} {
		_, err := ParsePrice(in)
		assert.ErrorIs(t, err, ErrInvalidPrice, "%q", in)
	}
}

func TestFormatUSD(t *testing.T) {
	tests := []struct {
		in   Money
		want string
	}{
		{0, "0.00"},
		{1, "0.000000001"},
		{34_300, "0.0000343"},
		{50_000, "0.00005"},
		{Cent, "0.01"},
		{324*Dollar + 40*Cent, "324.40"},
		{1_000 * Dollar, "1000.00"},
		{-50 * Cent, "-0.50"},
		{MaxMoney, "9223372036.854775807"},
		{math.MinInt64, "-9223372036.854775808"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, FormatUSD(tt.in))
		assert.Equal(t, tt.want, tt.in.String())
	}
}

func TestMoneyText(t *testing.T) {
	var m Money
	require.NoError(t, m.UnmarshalText([]byte("0.0000343")))
	assert.Equal(t, Money(34_300), m)
	b, err := m.MarshalText()
	require.NoError(t, err)
	assert.Equal(t, "0.0000343", string(b))
	assert.ErrorIs(t, m.UnmarshalText([]byte("0.1e1")), ErrInvalidPrice)
}

func TestCheckedArithmetic(t *testing.T) {
	_, ok := mulEvents(math.MaxInt64, 2)
	assert.False(t, ok)
	_, ok = mulEvents(-1, math.MinInt64)
	assert.False(t, ok)
	_, ok = mulEvents(math.MinInt64, -1)
	assert.False(t, ok)
	v, ok := mulEvents(250_000_000, 10_000)
	assert.True(t, ok)
	assert.Equal(t, 2_500*Dollar, v)
	_, ok = addMoney(MaxMoney, 1)
	assert.False(t, ok)
	_, ok = addMoney(math.MinInt64, -1)
	assert.False(t, ok)
	_, ok = subMoney(math.MinInt64, 1)
	assert.False(t, ok)
	_, ok = subMoney(MaxMoney, -1)
	assert.False(t, ok)
	_, ok = addCount(math.MaxInt64, 1)
	assert.False(t, ok)
}

var plainDecimal = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?$`)

// FuzzParsePrice checks, for any input:
//   - ParsePrice never panics;
//   - it accepts exactly the plain decimals (-?digits[.digits]) whose value
//     is a whole number of nano-dollars within the range of Money, and
//     returns that exact value (checked against math/big);
//   - what it accepts round-trips: ParsePrice(FormatUSD(m)) == m, and
//     FormatUSD is a fixed point (formatting the re-parsed value gives the
//     same text).
func FuzzParsePrice(f *testing.F) {
	for _, s := range []string{
		"0", "0.0000343", "324.40", "-0.5", "1e-5", ".5", "0.0000000001", "0.0000000010",
		"9223372036.854775807", "9223372036.854775808", "-9223372036.854775808", "00000000000000000000001",
	} {
		f.Add(s)
	}
	nano := big.NewRat(1_000_000_000, 1)
	lo, hi := big.NewInt(math.MinInt64), big.NewInt(math.MaxInt64)
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParsePrice(s)

		var want *big.Int
		if plainDecimal.MatchString(s) {
			r, ok := new(big.Rat).SetString(s)
			require.True(t, ok, "big.Rat parses every plain decimal")
			r.Mul(r, nano)
			if r.IsInt() && r.Num().Cmp(lo) >= 0 && r.Num().Cmp(hi) <= 0 {
				want = r.Num()
			}
		}
		if want == nil {
			require.ErrorIs(t, err, ErrInvalidPrice, "%q must be rejected", s)
			return
		}
		require.NoError(t, err, "%q must be accepted", s)
		require.Equal(t, want.Int64(), int64(m), "%q", s)

		text := FormatUSD(m)
		back, err := ParsePrice(text)
		require.NoError(t, err, text)
		require.Equal(t, m, back, text)
		require.Equal(t, text, FormatUSD(back))
	})
}

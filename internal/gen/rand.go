package gen

import "math"

// rng is splitmix64: tiny, fast, and fully specified here, so the stream
// does not depend on the standard library's generators.
type rng struct{ s uint64 }

const golden = 0x9e3779b97f4a7c15

func (r *rng) u64() uint64 {
	r.s += golden
	return mix(r.s)
}

// mix is the splitmix64 finaliser, a bijection on uint64.
func mix(z uint64) uint64 {
	z = (z ^ z>>30) * 0xbf58476d1ce4e5b9
	z = (z ^ z>>27) * 0x94d049bb133111eb
	return z ^ z>>31
}

// hash combines a seed, a domain and two coordinates.
func hash(seed, domain, a, b uint64) uint64 {
	return mix(seed ^ mix(domain*golden^mix(a*golden^mix(b+golden))))
}

// Hash domains, so that different uses of one seed do not correlate.
const (
	domUser uint64 = iota + 1
	domSessionLen
	domUUID
	domPad
)

// intn returns a number in [0, n); n must be in (0, 2^32).
func (r *rng) intn(n int) int { return int((r.u64() >> 32) * uint64(n) >> 32) }

// float returns a number in [0, 1).
func (r *rng) float() float64 { return float64(r.u64()>>11) / (1 << 53) }

func (r *rng) chance(p float64) bool { return p > 0 && r.float() < p }

// logUniform returns a duration in ms, log-uniformly in [lo, hi).
func (r *rng) logUniform(lo, hi float64) int64 {
	return int64(lo * math.Exp(r.float()*math.Log(hi/lo)))
}

// pick returns an index weighted by w.
func (r *rng) pick(w []int) int {
	t := 0
	for _, x := range w {
		t += x
	}
	n := r.intn(t)
	for i, x := range w {
		if n < x {
			return i
		}
		n -= x
	}
	return len(w) - 1
}

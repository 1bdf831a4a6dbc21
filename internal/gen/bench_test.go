package gen

import (
	"io"
	"testing"
)

// benchConfig is the default stream with enough people that the benchmark
// rarely starts a new generator.
var benchConfig = Config{Seed: 1, Users: 100_000, PadBytes: DefaultPadBytes}

// BenchmarkNext measures Next: one op is one record.
func BenchmarkNext(b *testing.B) {
	b.ReportAllocs()
	g := New(benchConfig)
	bytes := 0
	for b.Loop() {
		r, ok := g.Next()
		if !ok {
			g = New(benchConfig)
			r, _ = g.Next()
		}
		bytes += len(r.Value)
	}
	b.ReportMetric(float64(bytes)/float64(b.N), "B/record")
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "records/s")
}

// BenchmarkWriteJSONLines measures the file path of "resolver gen": one op
// is one record written.
func BenchmarkWriteJSONLines(b *testing.B) {
	b.ReportAllocs()
	c := benchConfig
	c.Users = max(1, b.N/30)
	g := New(c)
	b.ResetTimer()
	n, err := WriteJSONLines(io.Discard, g)
	if err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(n)/b.Elapsed().Seconds(), "records/s")
}

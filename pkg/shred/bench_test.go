package shred_test

import (
	"testing"

	"github.com/resolver-dev/resolver/pkg/shred"
)

// BenchmarkSeal seals a typical op: three property values of about 30
// bytes, as a worker does for every event with properties.
func BenchmarkSeal(b *testing.B) {
	key := mustKey(b)
	base := testOp()
	b.ReportAllocs()
	for b.Loop() {
		op := base
		if err := shred.Seal(&op, 77, key); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen opens it again, as the applier does for every sealed op.
func BenchmarkOpen(b *testing.B) {
	key := mustKey(b)
	sealed := testOp()
	if err := shred.Seal(&sealed, 77, key); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		op := sealed
		if err := shred.Open(&op, key); err != nil {
			b.Fatal(err)
		}
	}
}

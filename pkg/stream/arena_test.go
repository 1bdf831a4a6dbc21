package stream

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
)

// fill appends n bytes of c: what a caller that reserved too little or
// enough appends.
func fill(b []byte, n int, c byte) []byte {
	for range n {
		b = append(b, c)
	}
	return b
}

func TestArenaSlicesStayIntact(t *testing.T) {
	var a arena
	for batch := range 3 {
		var got [][]byte
		var want [][]byte
		// Sizes: small, reserved exactly, under-reserved (the block grows),
		// and larger than a block.
		sizes := []struct{ reserve, write int }{{10, 10}, {100, 50}, {8, 4000}, {arenaBlock + 5, arenaBlock + 5}, {1, 1}}
		for i := range 600 {
			sz := sizes[i%len(sizes)]
			c := byte('a' + (i+batch)%26)
			start, b := a.room(sz.reserve)
			s := a.keep(start, fill(b, sz.write, c))
			require.Len(t, s, sz.write)
			require.Equal(t, sz.write, cap(s), "capacity clipped: appending to one slice never writes over the next")
			got = append(got, s)
			want = append(want, bytes.Repeat([]byte{c}, sz.write))
		}
		for i := range got {
			require.Equal(t, want[i], got[i], "slice %d of batch %d", i, batch)
		}
		a.reset()
	}
}

func TestArenaReusesBlocks(t *testing.T) {
	var a arena
	batch := func() {
		for range 2000 {
			start, b := a.room(900)
			a.keep(start, fill(b, 700, 'x'))
		}
		a.reset()
	}
	batch() // the first batch makes the blocks
	allocs := testing.AllocsPerRun(5, batch)
	require.Zero(t, allocs, "a batch like the last one allocates nothing")
}

func TestArenasGet(t *testing.T) {
	var as arenas
	a0 := as.get(0)
	start, b := a0.room(3)
	s := a0.keep(start, append(b, "abc"...))
	as.get(3)
	require.Len(t, as, 4)
	require.Equal(t, "abc", string(s))
	as.reset()
	for i := range as {
		require.Zero(t, as[i].cur)
	}
}

// BenchmarkStampedBuffers compares the two ways of giving each stamped
// record its own value: an allocation per record (before) and carving it
// from the worker's arena (after).
func BenchmarkStampedBuffers(b *testing.B) {
	const records, size = 2000, 900
	for _, mode := range []string{"alloc", "arena"} {
		b.Run(fmt.Sprintf("mode=%s", mode), func(b *testing.B) {
			b.ReportAllocs()
			var a arena
			keep := make([][]byte, records)
			for b.Loop() {
				for i := range records {
					if mode == "alloc" {
						keep[i] = fill(make([]byte, 0, size), 700, 'x')
						continue
					}
					start, buf := a.room(size)
					keep[i] = a.keep(start, fill(buf, 700, 'x'))
				}
				a.reset()
			}
		})
	}
}

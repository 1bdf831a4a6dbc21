package stream

import "github.com/twmb/franz-go/pkg/kgo"

// arenaBlock is the size of an arena's blocks: a batch of 2,000 stamped
// events of ~1 KiB fills two.
const arenaBlock = 1 << 20

// arena hands out the byte slices of one batch's records (stamped values,
// keys) from a few large blocks, reused batch after batch, instead of one
// allocation (and its zeroing) per record. A slice it hands out stays
// valid until reset; reset only once nothing refers to the batch's
// records any more: after the batch's transaction has ended, when kgo has
// finished with every record (acknowledged or failed). One goroutine uses
// an arena at a time.
type arena struct {
	blocks [][]byte // blocks[:cur+1] are in use this batch
	cur    int
}

// reset makes every block reusable.
func (a *arena) reset() {
	for i := range a.blocks {
		a.blocks[i] = a.blocks[i][:0]
	}
	a.cur = 0
}

// block returns the block in use with at least n bytes of room, moving to
// the next (or a new one) when the current one has less.
func (a *arena) block(n int) []byte {
	for a.cur < len(a.blocks) {
		b := a.blocks[a.cur]
		if cap(b)-len(b) >= n {
			return b
		}
		if len(b) == 0 { // too small even empty: replace it
			a.blocks[a.cur] = make([]byte, 0, max(arenaBlock, n))
			return a.blocks[a.cur]
		}
		a.cur++
	}
	a.blocks = append(a.blocks, make([]byte, 0, max(arenaBlock, n)))
	return a.blocks[a.cur]
}

// room returns the block in use, with room for about n more bytes, and
// its length: append to it, then keep what was appended.
func (a *arena) room(n int) (int, []byte) {
	b := a.block(n)
	return len(b), b
}

// keep stores b, the block room returned with bytes appended from start,
// and returns what was appended, its capacity clipped so that appending
// to it never writes over a neighbour. Appending more than room's n is
// fine: the block then grew (a copy), and earlier slices keep the old one.
func (a *arena) keep(start int, b []byte) []byte {
	a.blocks[a.cur] = b
	return b[start:len(b):len(b)]
}

// arenas are a worker's arenas, one per goroutine of inParallel.
type arenas []arena

// get returns the i-th arena, making it when there are fewer.
func (as *arenas) get(i int) *arena {
	for len(*as) <= i {
		*as = append(*as, arena{})
	}
	return &(*as)[i]
}

// reset resets every arena.
func (as arenas) reset() {
	for i := range as {
		as[i].reset()
	}
}

// recordBlock is how many records a recordSlab block holds.
const recordBlock = 256

// recordSlab hands out a batch's feed records from blocks that never move
// (kgo keeps a pointer to each record until the transaction has ended),
// reused batch after batch, instead of one allocation per record. Reset it
// when the arenas are reset. One goroutine uses a slab at a time.
type recordSlab struct {
	blocks [][]kgo.Record // blocks[:cur+1] are in use this batch
	cur    int
}

// next returns a zero record, valid until reset.
func (s *recordSlab) next() *kgo.Record {
	for s.cur < len(s.blocks) && len(s.blocks[s.cur]) == cap(s.blocks[s.cur]) {
		s.cur++
	}
	if s.cur == len(s.blocks) {
		s.blocks = append(s.blocks, make([]kgo.Record, 0, recordBlock))
	}
	b := &s.blocks[s.cur]
	*b = append(*b, kgo.Record{})
	return &(*b)[len(*b)-1]
}

// reset makes every block reusable, dropping the records' references.
func (s *recordSlab) reset() {
	for i := range s.blocks {
		clear(s.blocks[i])
		s.blocks[i] = s.blocks[i][:0]
	}
	s.cur = 0
}

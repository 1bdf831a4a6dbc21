package gen

import (
	"bufio"
	"io"
)

// WriteJSONLines writes the remaining records of g to w, one record value
// per line, and returns how many it wrote. Keys are not written: they are
// "token:distinct_id" of each value (see Record.Key) and can be recomputed.
// It buffers its writes and flushes before returning.
func WriteJSONLines(w io.Writer, g *Generator) (n int, err error) {
	bw, ok := w.(*bufio.Writer)
	if !ok {
		bw = bufio.NewWriterSize(w, 256<<10)
	}
	for {
		v, more := g.next()
		if !more {
			break
		}
		if _, err := bw.Write(v); err != nil {
			return n, err
		}
		if err := bw.WriteByte('\n'); err != nil {
			return n, err
		}
		n++
	}
	return n, bw.Flush()
}

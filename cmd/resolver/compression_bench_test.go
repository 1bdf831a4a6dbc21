package main

import (
	"bytes"
	"testing"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/resolver-dev/resolver/internal/gen"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// BenchmarkOutputCompression is what output.compression costs the
// producer: franz-go's own compressor (kgo.DefaultCompressor, as the worker
// session's producer uses it) over record batches of 100 generated capture
// events padded to 500 bytes, the size of `resolver bench`'s input (a
// stamped event is the same event with its person fields). It reports
// ns/event and the compressed share of the bytes; decompression is the
// readers' cost and not measured here.
//
//	go test -run '^$' -bench OutputCompression -benchmem ./cmd/resolver/
func BenchmarkOutputCompression(b *testing.B) {
	const batch = 100
	g := gen.New(gen.Config{Seed: 1, PadBytes: 500})
	var src []byte
	for range batch {
		r, ok := g.Next()
		if !ok {
			b.Fatal("the generator ran dry")
		}
		src = append(src, r.Value...)
	}
	for _, name := range stream.Compressions {
		b.Run(name, func(b *testing.B) {
			codec, err := stream.ParseCompression(name)
			if err != nil {
				b.Fatal(err)
			}
			c, err := kgo.DefaultCompressor(codec)
			if err != nil {
				b.Fatal(err)
			}
			var dst bytes.Buffer
			out := len(src)
			b.SetBytes(int64(len(src)))
			b.ReportAllocs()
			for b.Loop() {
				dst.Reset()
				if c != nil {
					compressed, _ := c.Compress(&dst, src)
					out = len(compressed)
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*batch), "ns/event")
			b.ReportMetric(float64(out)/float64(len(src)), "size-ratio")
		})
	}
}

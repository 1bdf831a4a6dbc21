package stream

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"strings"
	"testing"

	"github.com/klauspost/compress/s2"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/twmb/franz-go/pkg/kgo"
)

// compressWith compresses b as a producer would, with franz-go's own
// compressor.
func compressWith(t *testing.T, codec kgo.CompressionCodec, b []byte) ([]byte, kgo.CompressionCodecType) {
	t.Helper()
	c, err := kgo.DefaultCompressor(codec)
	require.NoError(t, err)
	out, typ := c.Compress(new(bytes.Buffer), b)
	return bytes.Clone(out), typ
}

// xerial frames b as the Java client's snappy does, in blocks of 32 KiB.
func xerial(b []byte) []byte {
	out := append(bytes.Clone(xerialPrefix), 0, 0, 0, 1, 0, 0, 0, 1)
	for len(b) > 0 {
		n := min(len(b), 32<<10)
		block := s2.EncodeSnappy(nil, b[:n])
		out = binary.BigEndian.AppendUint32(out, uint32(len(block)))
		out = append(out, block...)
		b = b[n:]
	}
	return out
}

// jsonEvents is a legitimate batch's records: n events, ordinary JSON.
func jsonEvents(n int) []byte {
	var b bytes.Buffer
	for i := range n {
		fmt.Fprintf(&b, `{"uuid":"%08d-0000-4000-8000-000000000000","event":"$pageview","distinct_id":"user-%d","properties":{"$current_url":"https://example.com/p/%d","$browser":"Firefox","$os":"Linux","n":%d}}`, i, i%97, i%13, i)
	}
	return b.Bytes()
}

func TestBoundedDecompressor(t *testing.T) {
	const maxBytes = 1 << 20
	d := newBoundedDecompressor(maxBytes, 64)
	legit := jsonEvents(2000)          // ~300 kB, compresses ~10x
	zeros := make([]byte, 8<<20)       // a bomb over maxBytes
	ratioBomb := make([]byte, 900<<10) // under maxBytes, but far over 64x
	codecs := []kgo.CompressionCodec{kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression(), kgo.GzipCompression()}
	for _, codec := range codecs {
		src, typ := compressWith(t, codec, legit)
		t.Run(fmt.Sprintf("codec=%d", typ), func(t *testing.T) {
			got, err := d.Decompress(src, typ)
			require.NoError(t, err, "a legitimate batch")
			assert.True(t, bytes.Equal(legit, got))

			for name, b := range map[string][]byte{"over max_batch_bytes": zeros, "over the ratio": ratioBomb} {
				bomb, _ := compressWith(t, codec, b)
				_, err := d.Decompress(bomb, typ)
				if typ == kgo.CodecSnappy && name == "over the ratio" {
					// Snappy cannot compress past ~21x: 900 KiB of zeros is
					// ~42 KiB, within 64x.
					require.NoError(t, err)
					continue
				}
				require.ErrorIs(t, err, kgo.ErrMaxDecompress, name)
				assert.Contains(t, err.Error(), "decompresses past its bound", name)
			}

			// Garbage is refused the same way: kgo then reports the
			// batch's offsets, to skip, instead of stopping the partition.
			_, err = d.Decompress([]byte("not a compressed batch at all, but long enough"), typ)
			require.ErrorIs(t, err, kgo.ErrMaxDecompress)
			_, err = d.Decompress(src[:len(src)/2], typ)
			require.ErrorIs(t, err, kgo.ErrMaxDecompress, "a truncated batch")
		})
	}

	t.Run("xerial snappy", func(t *testing.T) {
		got, err := d.Decompress(xerial(legit), kgo.CodecSnappy)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(legit, got))
		_, err = d.Decompress(xerial(zeros), kgo.CodecSnappy)
		require.ErrorIs(t, err, kgo.ErrMaxDecompress)
		// A block header claiming more than the batch holds.
		bad := xerial(legit)
		binary.BigEndian.PutUint32(bad[16:], 1<<30)
		_, err = d.Decompress(bad, kgo.CodecSnappy)
		require.ErrorIs(t, err, kgo.ErrMaxDecompress)
	})

	t.Run("a raw snappy header that claims too much", func(t *testing.T) {
		// The claim is checked before anything is allocated.
		claim := binary.AppendUvarint(nil, 1<<40)
		_, err := d.Decompress(append(claim, strings.Repeat("x", 64)...), kgo.CodecSnappy)
		require.ErrorIs(t, err, kgo.ErrMaxDecompress)
	})

	t.Run("unknown codec", func(t *testing.T) {
		_, err := d.Decompress([]byte("x"), kgo.CompressionCodecType(7))
		require.ErrorIs(t, err, kgo.ErrMaxDecompress)
	})
}

func TestBoundedDecompressorLimit(t *testing.T) {
	d := newBoundedDecompressor(64<<20, 64)
	assert.Equal(t, ratioSlack, d.limit(0))
	assert.Equal(t, 64*1000+ratioSlack, d.limit(1000))
	assert.Equal(t, 64<<20, d.limit(1<<20), "the ratio passes max_batch_bytes")
	assert.Equal(t, 64<<20, d.limit(1<<62), "no overflow")
	d = newBoundedDecompressor(1<<30, 1<<16)
	assert.Equal(t, 1<<30, d.limit(1<<40))
}

// FuzzBoundedDecompressor: whatever a batch holds, Decompress returns
// either at most its bound or an error that kgo turns into a skippable
// ErrDecompressTooLarge, and never panics.
func FuzzBoundedDecompressor(f *testing.F) {
	d := newBoundedDecompressor(1<<20, 64)
	for _, codec := range []kgo.CompressionCodec{kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression(), kgo.GzipCompression()} {
		c, err := kgo.DefaultCompressor(codec)
		require.NoError(f, err)
		b, typ := c.Compress(new(bytes.Buffer), jsonEvents(20))
		f.Add(bytes.Clone(b), uint8(typ))
		b, typ = c.Compress(new(bytes.Buffer), make([]byte, 2<<20))
		f.Add(bytes.Clone(b), uint8(typ))
	}
	f.Add(xerial(jsonEvents(20)), uint8(kgo.CodecSnappy))
	f.Fuzz(func(t *testing.T, src []byte, codec uint8) {
		typ := kgo.CompressionCodecType(codec % 5)
		out, err := d.Decompress(src, typ)
		if err != nil {
			require.ErrorIs(t, err, kgo.ErrMaxDecompress)
			return
		}
		if typ != kgo.CodecNone {
			require.LessOrEqual(t, len(out), d.limit(len(src)))
		}
	})
}

// BenchmarkDecompress compares boundedDecompressor with franz-go's own on
// a ~300 kB batch of JSON events, per codec.
func BenchmarkDecompress(b *testing.B) {
	legit := jsonEvents(2000)
	for _, codec := range []kgo.CompressionCodec{kgo.SnappyCompression(), kgo.Lz4Compression(), kgo.ZstdCompression(), kgo.GzipCompression()} {
		c, err := kgo.DefaultCompressor(codec)
		require.NoError(b, err)
		src, typ := c.Compress(new(bytes.Buffer), legit)
		src = bytes.Clone(src)
		for name, d := range map[string]kgo.Decompressor{"bounded": newBoundedDecompressor(DefaultMaxBatchBytes, DefaultMaxCompressionRatio), "kgo": kgo.DefaultDecompressor()} {
			b.Run(fmt.Sprintf("codec=%s/impl=%s", codecName(typ), name), func(b *testing.B) {
				b.ReportAllocs()
				b.SetBytes(int64(len(legit)))
				for b.Loop() {
					if _, err := d.Decompress(src, typ); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func codecName(c kgo.CompressionCodecType) string {
	return map[kgo.CompressionCodecType]string{kgo.CodecGzip: "gzip", kgo.CodecSnappy: "snappy", kgo.CodecLz4: "lz4", kgo.CodecZstd: "zstd"}[c]
}

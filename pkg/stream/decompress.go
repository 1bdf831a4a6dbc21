package stream

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync"

	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
	"github.com/pierrec/lz4/v4"
	"github.com/twmb/franz-go/pkg/kgo"
)

// boundedDecompressor is the decompressor of the clients that consume the
// input (events_raw, identity_commands), which anyone who can produce to
// them writes (kgo.WithDecompressor). A client decompresses every record
// batch of a fetch response as the response arrives, before a single
// record is polled, and a batch's compressed size says little of its
// decompressed one: 1 KiB of zstd expands to 256 MiB of zeros, and Kafka's
// max.message.bytes bounds only the compressed batch. franz-go's own
// bound (1 GiB a batch) leaves one fetch of such batches free to hold tens
// of GiB, on every instance at once.
//
// So a batch may decompress to at most
//
//	min(maxBytes, ratio × its compressed size + ratioSlack)
//
// bytes, checked while it is decompressed: a snappy batch's header says
// its size before anything is allocated, lz4 and gzip are read through a
// limit, and zstd's decoder stops at maxBytes. With the fetch response itself bounded (boundedFetchMaxBytes), a
// fetch then holds at most (ratio + ratioSlack/61) × boundedFetchMaxBytes
// (61 bytes: a record batch's header, the least a batch takes in a
// response). A batch over the bound, or one that does not decompress at
// all (corrupt), is refused: kgo reports it as *kgo.ErrDecompressTooLarge
// (the error wraps kgo.ErrMaxDecompress) with its offsets, and the worker
// dead-letters the batch as one record and moves past it
// (refusedBatches). Snappy cannot pass a ratio of ~21, so only zstd, lz4
// and gzip batches reach the ratio.
//
// Safe for concurrent use.
type boundedDecompressor struct {
	maxBytes int
	ratio    int
	zstd     sync.Pool // *zstd.Decoder bounded at maxBytes
	lz4      sync.Pool // *lz4.Reader
	gzip     sync.Pool // *gzip.Reader
}

// The bounds of input.max_batch_bytes and input.max_compression_ratio.
const (
	// DefaultMaxBatchBytes is 64 MiB: a producer's batch is at most its
	// batch size (franz-go and librdkafka: 1 MB before compression; the
	// Java client: batch.size, 16 KiB, compressed) or one record of the
	// topic's max.message.bytes, decompressed.
	DefaultMaxBatchBytes = 64 << 20
	// MinMaxBatchBytes is 1 MiB.
	MinMaxBatchBytes = 1 << 20
	maxMaxBatchBytes = 1 << 30 // franz-go's own bound
	// DefaultMaxCompressionRatio is 64: JSON events compress 5–20 times
	// with zstd; snappy cannot pass ~21.
	DefaultMaxCompressionRatio = 64
	maxCompressionRatio        = 1 << 16
)

// ratioSlack is what any batch may decompress to beyond its ratio: a batch
// of one small event compresses badly, and a few bytes of zstd can hold a
// KiB of JSON legitimately.
const ratioSlack = 1 << 10

// boundedFetchMaxBytes bounds the fetch response (compressed) of every client
// that decompresses through boundedDecompressor, and so what one fetch can hold
// decompressed. A poll of stream.max_batch_records events takes a fraction
// of it.
const boundedFetchMaxBytes = 4 << 20

// BoundedFetchOpts are the client options that decompress what the
// client fetches within maxBytes and ratio (input.max_batch_bytes,
// input.max_compression_ratio), as the workers do, with its fetch response
// bounded: for the tools that read topics anyone may write (resolver dlq
// reads events_raw). A batch past them is reported by PollFetches as a
// *kgo.ErrDecompressTooLarge, whose NextOffset is where to go on.
func BoundedFetchOpts(maxBytes, ratio int) []kgo.Opt {
	return []kgo.Opt{kgo.WithDecompressor(newBoundedDecompressor(maxBytes, ratio)), kgo.FetchMaxBytes(boundedFetchMaxBytes)}
}

func newBoundedDecompressor(maxBytes, ratio int) *boundedDecompressor {
	d := &boundedDecompressor{maxBytes: maxBytes, ratio: ratio}
	d.zstd.New = func() any {
		z, err := zstd.NewReader(nil, zstd.WithDecoderConcurrency(1), zstd.WithDecoderMaxMemory(uint64(maxBytes)))
		if err != nil {
			panic(fmt.Sprintf("stream: zstd decoder: %v", err)) // options only; cannot fail
		}
		return z
	}
	return d
}

// limit is the most a batch of n compressed bytes may decompress to.
func (d *boundedDecompressor) limit(n int) int {
	if n > (d.maxBytes-ratioSlack)/d.ratio {
		return d.maxBytes
	}
	return min(d.maxBytes, d.ratio*n+ratioSlack)
}

// Decompress implements kgo.Decompressor.
func (d *boundedDecompressor) Decompress(src []byte, codec kgo.CompressionCodecType) ([]byte, error) {
	limit := d.limit(len(src))
	var (
		out []byte
		err error
	)
	switch codec {
	case kgo.CodecNone:
		return src, nil
	case kgo.CodecSnappy:
		out, err = decodeSnappy(src, limit)
	case kgo.CodecZstd:
		z := d.zstd.Get().(*zstd.Decoder)
		out, err = z.DecodeAll(src, nil)
		d.zstd.Put(z)
		if errors.Is(err, zstd.ErrDecoderSizeExceeded) {
			err = errBatchTooLarge
		}
	case kgo.CodecLz4:
		r, _ := d.lz4.Get().(*lz4.Reader)
		if r == nil {
			r = lz4.NewReader(nil)
		}
		r.Reset(bytes.NewReader(src))
		out, err = readAtMost(r, limit)
		r.Reset(nil)
		d.lz4.Put(r)
	case kgo.CodecGzip:
		r, _ := d.gzip.Get().(*gzip.Reader)
		if r == nil {
			r = new(gzip.Reader)
		}
		if err = r.Reset(bytes.NewReader(src)); err == nil {
			out, err = readAtMost(r, limit)
		}
		d.gzip.Put(r)
	default:
		err = fmt.Errorf("unknown compression codec %d", codec)
	}
	if err == nil && len(out) > limit {
		err = errBatchTooLarge
	}
	if err != nil {
		// Refused either way: kgo reports kgo.ErrMaxDecompress as
		// ErrDecompressTooLarge, with the batch's offsets to skip to. Any
		// other error would stop the partition for good, on every instance.
		return nil, fmt.Errorf("%w: %w (bound %d bytes: input.max_batch_bytes, or input.max_compression_ratio × %d compressed bytes)",
			kgo.ErrMaxDecompress, err, limit, len(src))
	}
	return out, nil
}

// skipRefused moves the client past the refused batches (past), so that
// the transaction that dead-letters them commits the offset after them
// with their dead letters; or, once that transaction has aborted, back to
// each batch (!past), so that it is fetched, refused and dead-lettered
// again. The way back is needed: kgo stops fetching a partition at a batch
// it refuses, and it takes the offset given to a partition that has none
// committed yet for its committed one, which an abort resets to — past the
// batch, with its dead letter undone. A partition revoked meanwhile is
// skipped (kgo's SetOffsets): its new owner reads from the committed
// offset, before the batch.
func skipRefused(cl *kgo.Client, refused []*kgo.ErrDecompressTooLarge, past bool) {
	if len(refused) == 0 {
		return
	}
	to := map[string]map[int32]kgo.EpochOffset{}
	for _, b := range refused {
		if to[b.Topic] == nil {
			to[b.Topic] = map[int32]kgo.EpochOffset{}
		}
		at := kgo.EpochOffset{Epoch: b.Epoch, Offset: b.Offset}
		if past {
			at.Offset = b.NextOffset
		}
		to[b.Topic][b.Partition] = at
	}
	cl.SetOffsets(to)
}

// errBatchTooLarge is a batch that decompresses past its bound.
var errBatchTooLarge = errors.New("the batch decompresses past its bound")

// readAtMost reads r to its end, failing with errBatchTooLarge past limit
// bytes. It reads into a pooled buffer and returns an exact copy: one
// allocation per batch, as franz-go's own decompressor does.
func readAtMost(r io.Reader, limit int) ([]byte, error) {
	b := readBufs.Get().(*bytes.Buffer)
	defer func() {
		if b.Cap() <= maxPooledReadBuf {
			b.Reset()
			readBufs.Put(b)
		}
	}()
	b.Reset()
	n, err := b.ReadFrom(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, err
	}
	if n > int64(limit) {
		return nil, errBatchTooLarge
	}
	return bytes.Clone(b.Bytes()), nil
}

// readBufs are readAtMost's buffers; one grown past maxPooledReadBuf (by a
// batch near its bound) is left to the collector.
var readBufs = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxPooledReadBuf = 8 << 20

// xerialPrefix starts a snappy batch in the Java client's framing: a
// 16-byte header, then blocks, each a big-endian length and a raw snappy
// block.
var xerialPrefix = []byte{130, 'S', 'N', 'A', 'P', 'P', 'Y', 0}

// decodeSnappy decodes a raw or xerial-framed snappy batch, checking the
// sizes its headers claim against limit before allocating them.
func decodeSnappy(src []byte, limit int) ([]byte, error) {
	if !(len(src) > 16 && bytes.HasPrefix(src, xerialPrefix)) {
		n, err := s2.DecodedLen(src)
		if err != nil {
			return nil, err
		}
		if n > limit {
			return nil, errBatchTooLarge
		}
		return s2.Decode(nil, src)
	}
	var out []byte
	for rest := src[16:]; len(rest) > 0; {
		if len(rest) < 4 {
			return nil, errors.New("xerial snappy: truncated block length")
		}
		size := binary.BigEndian.Uint32(rest)
		rest = rest[4:]
		if uint64(size) > uint64(len(rest)) {
			return nil, errors.New("xerial snappy: truncated block")
		}
		block := rest[:size]
		rest = rest[size:]
		n, err := s2.DecodedLen(block)
		if err != nil {
			return nil, err
		}
		if n > limit-len(out) {
			return nil, errBatchTooLarge
		}
		if out, err = appendSnappy(out, block, n); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// appendSnappy appends the n bytes block decodes to to out.
func appendSnappy(out, block []byte, n int) ([]byte, error) {
	at := len(out)
	out = slices.Grow(out, n)[:at+n]
	d, err := s2.Decode(out[at:], block)
	if err != nil {
		return nil, err
	}
	if len(d) != n {
		return nil, errors.New("xerial snappy: a block decodes to another length than its header says")
	}
	copy(out[at:], d) // nothing to copy when decoded in place
	return out, nil
}

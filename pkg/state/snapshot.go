package state

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.uber.org/zap"
)

// A snapshot file is a copy of a whole replica that a new instance can start
// from instead of replaying identity_log from the beginning:
//
//	resolver-snapshot\n
//	{"format":2, "compression":"zstd", "fingerprint":…, "identity_log":{…}, …}\n
//	zstd stream of a Badger backup (badger.DB.Backup, since 0)
//
// The magic line and the header (SnapshotHeader, one line of JSON) are
// plain text, so `head -2 FILE` shows what a snapshot holds; the backup
// after them is compressed with zstd (with its content checksum, so a
// damaged file fails to decompress). Format 1, written by earlier
// versions, is the same without compression; Restore reads both.
//
// The backup carries every key, so the applied identity_log offsets (a/),
// the high-water marks (o/), the outbox (x/) and the billing view with its
// offsets (b/, b@/) travel with the identity state they belong to; the
// header repeats the offsets and the fingerprint so that a person can read
// them without restoring, and so that Restore can check what it loaded.

// snapshotMagic opens every snapshot file.
const snapshotMagic = "resolver-snapshot\n"

// SnapshotFormat is the version of the snapshot file format this package
// writes. Restore also reads format 1 (uncompressed).
const SnapshotFormat = 2

// snapshotCompression is the compression of the backup in the files this
// package writes, as the header names it.
const snapshotCompression = "zstd"

// snapshotLevel is the zstd level of the backup. Higher levels buy little
// and cost much: the backup of the 1M-id fixture (174 MB) compresses to
// 51 MB at every level, in 1.3 CPU-s at the fastest, 1.5 at the default
// and 3.8 at "better" (BenchmarkSnapshotCompression); that of a state built
// by `resolver run` from 2.1M generated events (247 MB) to 92 MB at the
// fastest, 91 MB at the default (1.5× the time) and 88 MB at "better" (3×).
const snapshotLevel = zstd.SpeedFastest

// ErrNotEmpty is returned by Restore when the target directory already
// holds something: a snapshot is restored only into a fresh directory; and
// by BulkLoad on a store that holds anything.
var ErrNotEmpty = errors.New("state: directory is not empty")

// ErrBadSnapshot is returned by ReadSnapshotHeader and Restore for a file
// that is not a snapshot, of an unknown format, truncated, or whose
// contents do not match its header.
var ErrBadSnapshot = errors.New("state: bad snapshot")

// SnapshotHeader describes a snapshot: what the state was when it was taken.
type SnapshotHeader struct {
	Format int `json:"format"`
	// Compression of the backup after the header: "zstd" (format 2), or
	// empty for none (format 1).
	Compression string    `json:"compression,omitempty"`
	CreatedAt   time.Time `json:"created_at"`
	// Fingerprint and ContentDigest of the identity state (Store.Fingerprint,
	// Store.ContentDigest).
	Fingerprint   string `json:"fingerprint"`
	ContentDigest string `json:"content_digest"`
	// IdentityLog is the next identity_log offset to apply, per partition
	// (Store.AppliedOffsets): a restored instance continues from there.
	IdentityLog map[int32]int64 `json:"identity_log"`
	// BillingUsage is the next billing_usage offset to fold, per partition.
	BillingUsage map[int32]int64 `json:"billing_usage"`
}

// Snapshot writes a snapshot of the store to w and returns its header. The
// store must be a Badger store that nothing writes to meanwhile — a stopped
// instance's state dir, opened by the caller alone — so that the header and
// the backup describe the same state (Restore checks that they do).
func (s *Store) Snapshot(w io.Writer) (SnapshotHeader, error) {
	if s.closed.Load() {
		return SnapshotHeader{}, ErrClosed
	}
	if s.db == nil {
		return SnapshotHeader{}, errors.New("state: snapshot: only a Badger store can be snapshotted")
	}
	s.maint.Lock() // no value log GC rewrites files under the backup
	defer s.maint.Unlock()
	h, err := s.header()
	if err != nil {
		return SnapshotHeader{}, fmt.Errorf("state: snapshot: %w", err)
	}
	b, err := json.Marshal(h)
	if err != nil {
		return SnapshotHeader{}, fmt.Errorf("state: snapshot: encode header: %w", err)
	}
	bw := bufio.NewWriterSize(w, 1<<20)
	bw.WriteString(snapshotMagic)
	bw.Write(b)
	bw.WriteByte('\n')
	zw, err := zstd.NewWriter(bw, zstd.WithEncoderLevel(snapshotLevel))
	if err != nil {
		return SnapshotHeader{}, fmt.Errorf("state: snapshot: zstd: %w", err)
	}
	if _, err := s.db.Backup(zw, 0); err != nil {
		zw.Close()
		return SnapshotHeader{}, fmt.Errorf("state: snapshot: badger backup: %w", err)
	}
	if err := zw.Close(); err != nil {
		return SnapshotHeader{}, fmt.Errorf("state: snapshot: write: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return SnapshotHeader{}, fmt.Errorf("state: snapshot: write: %w", err)
	}
	return h, nil
}

// header describes the store as it is now.
func (s *Store) header() (SnapshotHeader, error) {
	h := SnapshotHeader{Format: SnapshotFormat, Compression: snapshotCompression, CreatedAt: time.Now().UTC().Truncate(time.Millisecond)}
	var err error
	if h.Fingerprint, err = s.Fingerprint(); err != nil {
		return h, err
	}
	if h.ContentDigest, err = s.ContentDigest(); err != nil {
		return h, err
	}
	if h.IdentityLog, err = s.AppliedOffsets(); err != nil {
		return h, err
	}
	if h.BillingUsage, err = s.BillingOffsets(); err != nil {
		return h, err
	}
	return h, nil
}

// ReadSnapshotHeader reads the magic line and the header of a snapshot,
// leaving r at the start of the backup (compressed as the header's
// Compression says). A file that is not a snapshot, of a format this
// resolver does not read, or cut short in its header is an ErrBadSnapshot
// that says which.
func ReadSnapshotHeader(r *bufio.Reader) (SnapshotHeader, error) {
	magic, err := r.Peek(len(snapshotMagic))
	if string(magic) != snapshotMagic {
		return SnapshotHeader{}, fmt.Errorf("%w: not a resolver snapshot (%s)", ErrBadSnapshot, notSnapshot(magic, err))
	}
	r.Discard(len(snapshotMagic))
	line, err := r.ReadBytes('\n')
	if err != nil {
		return SnapshotHeader{}, fmt.Errorf("%w: truncated header: %w", ErrBadSnapshot, err)
	}
	var h SnapshotHeader
	if err := json.Unmarshal(line, &h); err != nil {
		return SnapshotHeader{}, fmt.Errorf("%w: header: %w", ErrBadSnapshot, err)
	}
	switch {
	case h.Format != 1 && h.Format != SnapshotFormat:
		return SnapshotHeader{}, fmt.Errorf("%w: format %d, this resolver reads formats 1 and %d", ErrBadSnapshot, h.Format, SnapshotFormat)
	case h.Format == 1 && h.Compression != "":
		return SnapshotHeader{}, fmt.Errorf("%w: format 1 with compression %q (format 1 is uncompressed)", ErrBadSnapshot, h.Compression)
	case h.Format >= 2 && h.Compression != snapshotCompression:
		return SnapshotHeader{}, fmt.Errorf("%w: compression %q, this resolver reads %q", ErrBadSnapshot, h.Compression, snapshotCompression)
	}
	return h, nil
}

// notSnapshot says what the first bytes of a file that is not a snapshot
// look like: empty, compressed as a whole (a snapshot already is), or
// something else.
func notSnapshot(head []byte, err error) string {
	switch {
	case len(head) == 0 && errors.Is(err, io.EOF):
		return "the file is empty"
	case bytes.HasPrefix(head, []byte{0x28, 0xb5, 0x2f, 0xfd}):
		return "the whole file is zstd-compressed: decompress it with zstd -d first"
	case bytes.HasPrefix(head, []byte{0x1f, 0x8b}):
		return "the whole file is gzip-compressed: decompress it with gunzip first"
	case err != nil && !errors.Is(err, io.EOF):
		return err.Error()
	}
	return fmt.Sprintf("it does not begin with %q", snapshotMagic[:len(snapshotMagic)-1])
}

// backupReader returns the reader of the Badger backup that follows the
// header in r, and a function that releases it.
func backupReader(h SnapshotHeader, r io.Reader) (io.Reader, func(), error) {
	if h.Compression == "" {
		return r, func() {}, nil
	}
	zr, err := zstd.NewReader(r)
	if err != nil {
		return nil, nil, fmt.Errorf("state: restore: zstd: %w", err)
	}
	return decompressErrs{zr}, zr.Close, nil
}

// decompressErrs says of its reader's errors that they come from
// decompressing, so that a damaged file reads as one: Badger's loader
// passes them on as they are.
type decompressErrs struct{ r io.Reader }

func (d decompressErrs) Read(p []byte) (int, error) {
	n, err := d.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = fmt.Errorf("decompress: %w", err)
	}
	return n, err
}

// Restore loads a snapshot into a fresh Badger store in dir and returns it
// open, with the snapshot's header. dir must not exist or be empty
// (ErrNotEmpty otherwise). After loading, Restore checks that the store's
// fingerprint, content digest and offsets are those of the header; if
// anything fails it closes the store and removes what it wrote, leaving dir
// as it found it (absent or empty).
//
// The store is loaded and checked in a sibling directory of dir (named
// .BASE.restoring-*) and only then renamed to dir, so dir never holds part
// of a snapshot: a restore killed halfway (SIGKILL, the OOM killer, a lost
// node) leaves dir as it was, not a store that opens and looks whole but
// lacks most of its keys, which an instance would run from. What a killed
// restore left beside dir is removed by the next Restore into dir.
//
// The restored store is a replica as of the snapshot: the applier resumes
// from the header's IdentityLog offsets and the billing view from its
// BillingUsage offsets.
func Restore(dir string, r io.Reader, o Options) (*Store, SnapshotHeader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	h, err := ReadSnapshotHeader(br)
	if err != nil {
		return nil, SnapshotHeader{}, err
	}
	existed, err := checkEmptyDir(dir)
	if err != nil {
		return nil, SnapshotHeader{}, err
	}
	parent := filepath.Dir(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return nil, SnapshotHeader{}, fmt.Errorf("state: restore: %w", err)
	}
	removeStaleRestores(dir, o.Logger)
	tmp, err := os.MkdirTemp(parent, restoringPrefix(dir))
	if err == nil {
		err = os.Chmod(tmp, 0o755) // as Open makes a state directory
	}
	if err != nil {
		return nil, SnapshotHeader{}, errors.Join(fmt.Errorf("state: restore: %w", err), os.RemoveAll(tmp))
	}
	s, err := Open(tmp, o)
	if err != nil {
		return nil, SnapshotHeader{}, errors.Join(err, os.RemoveAll(tmp))
	}
	fail := func(err error) (*Store, SnapshotHeader, error) {
		return nil, SnapshotHeader{}, errors.Join(err, s.Close(), os.RemoveAll(tmp))
	}
	backup, release, err := backupReader(h, br)
	if err != nil {
		return fail(err)
	}
	// Nothing has read the store yet, so the cache is empty and Badger's
	// loader may write under it.
	err = s.db.Load(backup, 256)
	if err != nil && h.Compression != "" {
		// zstd checks a frame's checksum at its end: bytes of a damaged
		// frame can reach the loader, and fail it, before. The rest of the
		// stream says whether the file is damaged, which is the error to
		// give.
		if _, derr := io.Copy(io.Discard, backup); derr != nil {
			err = derr
		}
	}
	release()
	if err != nil {
		return fail(fmt.Errorf("%w: load into %s: %w (truncated or damaged file?)", ErrBadSnapshot, dir, err))
	}
	got, err := s.header()
	if err != nil {
		return fail(fmt.Errorf("state: restore: read back: %w", err))
	}
	switch {
	case got.Fingerprint != h.Fingerprint:
		return fail(fmt.Errorf("%w: restored fingerprint %s, header says %s (truncated or damaged file?)", ErrBadSnapshot, got.Fingerprint, h.Fingerprint))
	case got.ContentDigest != h.ContentDigest:
		return fail(fmt.Errorf("%w: restored content digest %s, header says %s", ErrBadSnapshot, got.ContentDigest, h.ContentDigest))
	case !maps.Equal(got.IdentityLog, h.IdentityLog):
		return fail(fmt.Errorf("%w: restored identity_log offsets %v, header says %v", ErrBadSnapshot, got.IdentityLog, h.IdentityLog))
	case !maps.Equal(got.BillingUsage, h.BillingUsage):
		return fail(fmt.Errorf("%w: restored billing_usage offsets %v, header says %v", ErrBadSnapshot, got.BillingUsage, h.BillingUsage))
	}
	// Into place: closed first (Badger names its files by its directory),
	// then renamed to dir — which must still be absent, or empty and
	// removed first: both fail if anything wrote there meanwhile — and
	// opened there.
	if err := s.Close(); err != nil {
		return nil, SnapshotHeader{}, errors.Join(fmt.Errorf("state: restore: %w", err), os.RemoveAll(tmp))
	}
	if existed {
		if err := os.Remove(dir); err != nil {
			err = fmt.Errorf("state: restore: replace the empty %s (did something write there meanwhile?): %w", dir, err)
			return nil, SnapshotHeader{}, errors.Join(err, os.RemoveAll(tmp))
		}
	}
	if err := os.Rename(tmp, dir); err != nil {
		err = fmt.Errorf("state: restore: move the loaded store into %s (did something write there meanwhile?): %w", dir, err)
		return nil, SnapshotHeader{}, errors.Join(err, os.RemoveAll(tmp))
	}
	if s, err = Open(dir, o); err != nil {
		return nil, SnapshotHeader{}, fmt.Errorf("state: restore: open the restored store: %w", err)
	}
	return s, h, nil
}

// restoringPrefix is the name prefix of the directories Restore loads a
// snapshot into, beside dir.
func restoringPrefix(dir string) string { return "." + filepath.Base(dir) + ".restoring-" }

// removeStaleRestores removes what restores into dir that were killed left
// beside it; one still running (its store's lock held) is left alone.
func removeStaleRestores(dir string, log *zap.Logger) {
	if log == nil {
		log = zap.NewNop()
	}
	parent, prefix := filepath.Dir(dir), restoringPrefix(dir)
	entries, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range entries {
		if !e.IsDir() || !strings.HasPrefix(e.Name(), prefix) {
			continue
		}
		stale := filepath.Join(parent, e.Name())
		lock, err := lockDir(stale)
		if err != nil {
			continue // another restore is loading it, or it is not ours to judge
		}
		err = os.RemoveAll(stale)
		lock.release()
		if err != nil {
			log.Warn("could not remove what a killed restore left", zap.String("dir", stale), zap.Error(err))
			continue
		}
		log.Warn("removed what a killed restore left", zap.String("dir", stale))
	}
}

// checkEmptyDir returns whether dir exists, and ErrNotEmpty if it has
// anything in it.
func checkEmptyDir(dir string) (existed bool, err error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("state: restore into %s: %w", dir, err)
	}
	defer f.Close()
	names, err := f.Readdirnames(1)
	if err != nil && !errors.Is(err, io.EOF) {
		return true, fmt.Errorf("state: restore into %s: %w", dir, err)
	}
	if len(names) > 0 {
		return true, fmt.Errorf("%w: %s holds %s (restore needs a fresh directory)", ErrNotEmpty, dir, names[0])
	}
	return true, nil
}

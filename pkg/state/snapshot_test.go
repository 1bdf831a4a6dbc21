package state

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"testing"
	"testing/iotest"

	"github.com/klauspost/compress/zstd"
)

// snapshotSource is a Badger store with identity state, applied offsets,
// high-water marks, outbox rows and billing, as an instance leaves it.
func snapshotSource(t *testing.T) *Store {
	t.Helper()
	s, _ := openTest(t, testOptions(t))
	ops, _ := interleavedOps()
	applyOps(t, s, ops)
	update(t, s, func(tx Tx) error {
		must(t, tx.SetApplied(0, 17))
		must(t, tx.SetApplied(3, 4))
		return nil
	})
	must(t, s.ApplyBilling([]BillingDelta{{Team: "1", Month: "2026-11", Class: "identified", Count: 5}}, map[int32]int64{2: 9}))
	return s
}

func billingTotals(t *testing.T, s *Store) map[string]int64 {
	t.Helper()
	out := map[string]int64{}
	must(t, s.BillingTotals(func(team, month, class string, n int64) error {
		out[team+"/"+month+"/"+class] = n
		return nil
	}))
	return out
}

// TestSnapshotRestore: a restored store has the source's fingerprint,
// content digest, applied and billing offsets and billing totals, and the
// header says so.
func TestSnapshotRestore(t *testing.T) {
	src := snapshotSource(t)
	var buf bytes.Buffer
	h, err := src.Snapshot(&buf)
	must(t, err)
	fp, err := src.Fingerprint()
	must(t, err)
	if h.Format != SnapshotFormat || h.Compression != "zstd" || h.Fingerprint != fp || !reflect.DeepEqual(h.IdentityLog, map[int32]int64{0: 17, 3: 4}) ||
		!reflect.DeepEqual(h.BillingUsage, map[int32]int64{2: 9}) || h.CreatedAt.IsZero() {
		t.Fatalf("header %+v", h)
	}

	hr, err := ReadSnapshotHeader(bufio.NewReader(bytes.NewReader(buf.Bytes())))
	must(t, err)
	if !reflect.DeepEqual(hr, h) {
		t.Fatalf("header read back %+v, written %+v", hr, h)
	}

	for _, fresh := range []string{"absent", "empty"} {
		t.Run(fresh, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "identity")
			if fresh == "empty" {
				must(t, os.Mkdir(dir, 0o755))
			}
			dst, h2, err := Restore(dir, bytes.NewReader(buf.Bytes()), testOptions(t))
			must(t, err)
			defer dst.Close()
			if !reflect.DeepEqual(h2, h) {
				t.Fatalf("restore header %+v", h2)
			}
			fp2, err := dst.Fingerprint()
			must(t, err)
			if fp2 != fp {
				t.Fatalf("restored fingerprint %s, source %s", fp2, fp)
			}
			offs, err := dst.AppliedOffsets()
			must(t, err)
			if !reflect.DeepEqual(offs, h.IdentityLog) {
				t.Fatalf("applied offsets %v", offs)
			}
			if got, want := billingTotals(t, dst), billingTotals(t, src); !reflect.DeepEqual(got, want) {
				t.Fatalf("billing %v, want %v", got, want)
			}
			v1, err := src.Lookup("1", "anon")
			must(t, err)
			v2, err := dst.Lookup("1", "anon")
			must(t, err)
			if !reflect.DeepEqual(v1, v2) {
				t.Fatalf("lookup differs:\n%+v\n%+v", v1, v2)
			}
			// The restored store is a normal store: it takes new writes.
			ops, _ := interleavedOps()
			applyOps(t, dst, ops[:1])
		})
	}
}

// TestRestoreRefuses: a non-empty target, a file that is not a snapshot, a
// truncated snapshot and a snapshot whose header lies are refused, and a
// failed restore leaves the target as it found it.
func TestRestoreRefuses(t *testing.T) {
	src := snapshotSource(t)
	var buf bytes.Buffer
	_, err := src.Snapshot(&buf)
	must(t, err)
	snap := buf.Bytes()

	t.Run("non-empty", func(t *testing.T) {
		dir := t.TempDir()
		must(t, os.WriteFile(filepath.Join(dir, "x"), nil, 0o644))
		_, _, err := Restore(dir, bytes.NewReader(snap), testOptions(t))
		if !errors.Is(err, ErrNotEmpty) {
			t.Fatalf("got %v, want ErrNotEmpty", err)
		}
	})
	check := func(t *testing.T, data []byte, existing bool) {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "identity")
		if existing {
			must(t, os.Mkdir(dir, 0o755))
		}
		_, _, err := Restore(dir, bytes.NewReader(data), testOptions(t))
		if !errors.Is(err, ErrBadSnapshot) {
			t.Fatalf("got %v, want ErrBadSnapshot", err)
		}
		entries, statErr := os.ReadDir(dir)
		switch {
		case existing && statErr != nil:
			t.Fatalf("target removed: %v", statErr)
		case existing && len(entries) > 0:
			t.Fatalf("target left with %d entries (%s…)", len(entries), entries[0].Name())
		case !existing && !errors.Is(statErr, os.ErrNotExist):
			t.Fatalf("target created: %v", statErr)
		}
		if left := restoringDirs(t, dir); len(left) > 0 {
			t.Fatalf("the load directory was left: %v", left)
		}
	}
	t.Run("not a snapshot", func(t *testing.T) { check(t, []byte("hello\n"), false) })
	t.Run("unknown format", func(t *testing.T) {
		check(t, bytes.Replace(snap, []byte(`"format":2`), []byte(`"format":9`), 1), false)
	})
	t.Run("unknown compression", func(t *testing.T) {
		check(t, bytes.Replace(snap, []byte(`"compression":"zstd"`), []byte(`"compression":"lz4"`), 1), false)
	})
	t.Run("empty", func(t *testing.T) { check(t, nil, false) })
	t.Run("damaged", func(t *testing.T) {
		// One byte flipped in the middle of the compressed backup: zstd's
		// checksum (or its decoder) catches it before Badger sees garbage.
		damaged := bytes.Clone(snap)
		body := bytes.IndexByte(damaged[len(snapshotMagic):], '\n') + len(snapshotMagic) + 1
		damaged[body+(len(damaged)-body)/2] ^= 0xff
		check(t, damaged, true)
		_, _, err := Restore(filepath.Join(t.TempDir(), "identity"), bytes.NewReader(damaged), testOptions(t))
		if err == nil || !strings.Contains(err.Error(), "decompress") {
			t.Fatalf("got %v, want a decompression error", err)
		}
	})
	t.Run("truncated", func(t *testing.T) { check(t, snap[:len(snap)-10], true) })
	t.Run("truncated to the header", func(t *testing.T) {
		i := bytes.IndexByte(snap[len(snapshotMagic):], '\n')
		check(t, snap[:len(snapshotMagic)+i+1], false)
	})
	t.Run("header lies", func(t *testing.T) {
		h, err := src.Snapshot(new(bytes.Buffer))
		must(t, err)
		check(t, bytes.Replace(snap, []byte(h.Fingerprint), []byte(emptyFingerprint(t)), 1), true)
	})
}

// restoringDirs lists the directories beside dir that Restore loads into.
func restoringDirs(t *testing.T, dir string) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Dir(dir))
	must(t, err)
	var out []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), restoringPrefix(dir)) {
			out = append(out, e.Name())
		}
	}
	return out
}

// watchedReader calls fn once, when at bytes of data have been read.
type watchedReader struct {
	r        *bytes.Reader
	at       int64
	read     int64
	fn       func()
	finished bool
}

func (w *watchedReader) Read(p []byte) (int, error) {
	n, err := w.r.Read(p)
	w.read += int64(n)
	if !w.finished && w.read >= w.at {
		w.finished = true
		w.fn()
	}
	return n, err
}

// TestRestoreNeverPartial: while a snapshot loads, dir holds nothing of it
// (it loads beside dir, and is renamed into place once checked), so a
// restore killed halfway cannot leave a partial store that an instance
// would run from; the next Restore into dir removes what a killed one left
// beside it, but not the directory of a restore that is still running.
func TestRestoreNeverPartial(t *testing.T) {
	src := snapshotSource(t)
	var buf bytes.Buffer
	_, err := src.Snapshot(&buf)
	must(t, err)
	fp, err := src.Fingerprint()
	must(t, err)
	// Read a byte at a time, and look at dir just before the last bytes:
	// the header is most of this small file, and the load is under way
	// once the backup is being read.
	for _, existing := range []bool{false, true} {
		t.Run(map[bool]string{false: "absent", true: "empty"}[existing], func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "identity")
			if existing {
				must(t, os.Mkdir(dir, 0o755))
			}
			killed := filepath.Join(filepath.Dir(dir), restoringPrefix(dir)+"killed")
			must(t, os.MkdirAll(killed, 0o755))
			must(t, os.WriteFile(filepath.Join(killed, "000001.sst"), []byte("part of a store"), 0o644))
			running := filepath.Join(filepath.Dir(dir), restoringPrefix(dir)+"running")
			must(t, os.MkdirAll(running, 0o755))
			lock, err := lockDir(running)
			must(t, err)
			defer lock.release()

			var during []string
			var loading []string
			r := &watchedReader{r: bytes.NewReader(buf.Bytes()), at: int64(buf.Len() - 8), fn: func() {
				entries, err := os.ReadDir(dir)
				if err == nil {
					for _, e := range entries {
						during = append(during, e.Name())
					}
				} else if !errors.Is(err, os.ErrNotExist) {
					during = append(during, err.Error())
				}
				loading = restoringDirs(t, dir)
			}}
			dst, _, err := Restore(dir, iotest.OneByteReader(r), testOptions(t))
			must(t, err)
			defer dst.Close()
			if !r.finished {
				t.Fatal("the snapshot was not read to its end")
			}
			if len(during) > 0 {
				t.Fatalf("dir held %v while the snapshot loaded", during)
			}
			if len(loading) != 2 || !slices.Contains(loading, filepath.Base(running)) {
				t.Fatalf("while loading, beside dir: %v (want the running one and the load's own)", loading)
			}
			if left := restoringDirs(t, dir); len(left) != 1 || left[0] != filepath.Base(running) {
				t.Fatalf("after the restore, beside dir: %v (want only the running one)", left)
			}
			got, err := dst.Fingerprint()
			must(t, err)
			if got != fp {
				t.Fatalf("restored fingerprint %s, source %s", got, fp)
			}
			fi, err := os.Stat(dir)
			must(t, err)
			if fi.Mode().Perm() != 0o755 {
				t.Fatalf("restored directory mode %v, want 0755 as Open makes it", fi.Mode().Perm())
			}
		})
	}
}

// TestSnapshotNeedsBadger: the in-memory store has no backup.
func TestSnapshotNeedsBadger(t *testing.T) {
	if _, err := NewMemory().Snapshot(new(bytes.Buffer)); err == nil {
		t.Fatal("snapshot of a memory store succeeded")
	}
}

// TestSnapshotCompressed: the backup after the header is one zstd stream,
// smaller than the Badger backup it holds.
func TestSnapshotCompressed(t *testing.T) {
	src := snapshotSource(t)
	var buf bytes.Buffer
	_, err := src.Snapshot(&buf)
	must(t, err)
	br := bufio.NewReader(bytes.NewReader(buf.Bytes()))
	_, err = ReadSnapshotHeader(br)
	must(t, err)
	body, err := io.ReadAll(br)
	must(t, err)
	if !bytes.HasPrefix(body, []byte{0x28, 0xb5, 0x2f, 0xfd}) {
		t.Fatalf("backup does not begin with the zstd magic number: % x", body[:min(len(body), 8)])
	}
	zr, err := zstd.NewReader(bytes.NewReader(body))
	must(t, err)
	defer zr.Close()
	backup, err := io.ReadAll(zr)
	must(t, err)
	// The decompressed stream is a Badger backup of the whole store: it
	// loads into an empty store with the same fingerprint. (Two backups of
	// one store need not have one length: Badger may write a key's
	// versions differently between them.)
	dst, _ := openTest(t, testOptions(t))
	must(t, dst.db.Load(bytes.NewReader(backup), 16))
	want, err := src.Fingerprint()
	must(t, err)
	got, err := dst.Fingerprint()
	must(t, err)
	if got != want {
		t.Fatalf("the decompressed backup loads to fingerprint %s, the store's is %s", got, want)
	}
	if len(body) >= len(backup) {
		t.Fatalf("compressed backup %d bytes, uncompressed %d", len(body), len(backup))
	}
}

// TestRestoreFormat1: a snapshot written before compression (format 1: the
// header, then the Badger backup as it is) still restores.
func TestRestoreFormat1(t *testing.T) {
	src := snapshotSource(t)
	h, err := src.header()
	must(t, err)
	h.Format, h.Compression = 1, ""
	line, err := json.Marshal(h)
	must(t, err)
	var buf bytes.Buffer
	buf.WriteString(snapshotMagic)
	buf.Write(line)
	buf.WriteByte('\n')
	_, err = src.db.Backup(&buf, 0)
	must(t, err)

	dst, got, err := Restore(filepath.Join(t.TempDir(), "identity"), bytes.NewReader(buf.Bytes()), testOptions(t))
	must(t, err)
	defer dst.Close()
	if !reflect.DeepEqual(got, h) {
		t.Fatalf("header %+v, written %+v", got, h)
	}
	fp, err := dst.Fingerprint()
	must(t, err)
	if fp != h.Fingerprint {
		t.Fatalf("restored fingerprint %s, source %s", fp, h.Fingerprint)
	}
	if got, want := billingTotals(t, dst), billingTotals(t, src); !reflect.DeepEqual(got, want) {
		t.Fatalf("billing %v, want %v", got, want)
	}
}

// TestReadSnapshotHeaderSaysWhy: a file that is not a snapshot is refused
// with what it looks like instead.
func TestReadSnapshotHeaderSaysWhy(t *testing.T) {
	src := snapshotSource(t)
	var snap bytes.Buffer
	_, err := src.Snapshot(&snap)
	must(t, err)
	var zsnap bytes.Buffer
	zw, err := zstd.NewWriter(&zsnap)
	must(t, err)
	_, err = zw.Write(snap.Bytes())
	must(t, err)
	must(t, zw.Close())
	var gzsnap bytes.Buffer
	gw := gzip.NewWriter(&gzsnap)
	_, err = gw.Write(snap.Bytes())
	must(t, err)
	must(t, gw.Close())

	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "not a resolver snapshot (the file is empty)"},
		{"text", []byte("hello\n"), `not a resolver snapshot (it does not begin with "resolver-snapshot")`},
		{"zstd", zsnap.Bytes(), "the whole file is zstd-compressed: decompress it with zstd -d first"},
		{"gzip", gzsnap.Bytes(), "the whole file is gzip-compressed: decompress it with gunzip first"},
		{"format", bytes.Replace(snap.Bytes(), []byte(`"format":2`), []byte(`"format":3`), 1), "format 3, this resolver reads formats 1 and 2"},
		{"compression", bytes.Replace(snap.Bytes(), []byte(`"compression":"zstd"`), []byte(`"compression":"xz"`), 1), `compression "xz", this resolver reads "zstd"`},
		{"format 1 compressed", bytes.Replace(snap.Bytes(), []byte(`"format":2`), []byte(`"format":1`), 1), `format 1 with compression "zstd"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := ReadSnapshotHeader(bufio.NewReader(bytes.NewReader(c.data)))
			if !errors.Is(err, ErrBadSnapshot) || !strings.Contains(err.Error(), c.want) {
				t.Fatalf("got %v, want ErrBadSnapshot saying %q", err, c.want)
			}
		})
	}
}

package state

import (
	"bufio"
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
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
	if h.Format != SnapshotFormat || h.Fingerprint != fp || !reflect.DeepEqual(h.IdentityLog, map[int32]int64{0: 17, 3: 4}) ||
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
	}
	t.Run("not a snapshot", func(t *testing.T) { check(t, []byte("hello\n"), false) })
	t.Run("unknown format", func(t *testing.T) {
		check(t, bytes.Replace(snap, []byte(`"format":1`), []byte(`"format":9`), 1), false)
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

// TestSnapshotNeedsBadger: the in-memory store has no backup.
func TestSnapshotNeedsBadger(t *testing.T) {
	if _, err := NewMemory().Snapshot(new(bytes.Buffer)); err == nil {
		t.Fatal("snapshot of a memory store succeeded")
	}
}

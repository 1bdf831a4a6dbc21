package state

import (
	"os"
	"path/filepath"
	"testing"
)

// TestWipe: a wiped dir opens empty; an open dir is refused as locked and
// left alone; a missing dir is no error.
func TestWipe(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "identity")
	must(t, Wipe(dir))
	must(t, CheckUnlocked(dir))
	if _, err := os.Stat(dir); !os.IsNotExist(err) {
		t.Fatalf("Wipe created %s: %v", dir, err)
	}

	s, err := Open(dir, testOptions(t))
	must(t, err)
	ops, _ := interleavedOps()
	applyOps(t, s, ops)
	update(t, s, func(tx Tx) error { return tx.SetApplied(0, 3) })
	fp, err := s.Fingerprint()
	must(t, err)

	if err := CheckUnlocked(dir); !IsLocked(err) {
		t.Fatalf("CheckUnlocked of an open store: %v, want a locked error", err)
	}
	if err := Wipe(dir); !IsLocked(err) {
		t.Fatalf("Wipe of an open store: %v, want a locked error", err)
	}
	if got, err := s.Fingerprint(); err != nil || got != fp {
		t.Fatalf("state changed by a refused Wipe: %v", err)
	}
	must(t, s.Close())
	must(t, CheckUnlocked(dir))

	must(t, Wipe(dir))
	s, err = Open(dir, testOptions(t))
	must(t, err)
	defer s.Close()
	if got, _ := s.Fingerprint(); got != emptyFingerprint(t) {
		t.Fatal("wiped store is not empty")
	}
	if offs, _ := s.AppliedOffsets(); len(offs) != 0 {
		t.Fatalf("wiped store has applied offsets %v", offs)
	}
}

// TestWipeUnreadable: Wipe clears a directory Badger cannot open.
func TestWipeUnreadable(t *testing.T) {
	dir := t.TempDir()
	must(t, os.WriteFile(filepath.Join(dir, "MANIFEST"), []byte("garbage"), 0o644))
	if s, err := Open(dir, testOptions(t)); err == nil {
		s.Close()
		t.Fatal("Badger opened a garbage MANIFEST")
	}
	must(t, Wipe(dir))
	s, err := Open(dir, testOptions(t))
	must(t, err)
	must(t, s.Close())
}

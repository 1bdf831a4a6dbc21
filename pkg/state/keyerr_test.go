package state

import (
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/resolver-dev/resolver/internal/redact"
	"github.com/resolver-dev/resolver/pkg/unionfind"
)

// TestDescribeKey: every kind of key is named by its parts, a distinct_id
// only by its hash.
func TestDescribeKey(t *testing.T) {
	pid := unionfind.PersonID{1, 2, 3}
	for _, tc := range []struct {
		key  []byte
		want string
	}{
		{mappingKey(nil, "1", "user@example.com"), `mapping key (team "1", distinct_id ` + redact.Hash("user@example.com") + `)`},
		{memberKey(nil, "1", pid, "a"), `member key (team "1", person ` + pid.String() + `, distinct_id ` + redact.Hash("a") + `)`},
		{personKey(nil, "phc_x", pid), `person key (team "phc_x", person ` + pid.String() + `)`},
		{appliedKey(nil, 3), `applied-offset key (identity_log partition 3)`},
		{highWaterKey(nil, 2, "events_raw", 7), `high-water key (identity_log partition 2, topic "events_raw", partition 7)`},
		{outboxKey(nil, unionfind.Source{Topic: "events_raw", Partition: 1, Offset: 42, Index: 2}), `outbox key (topic "events_raw", partition 1, offset 42, index 2)`},
		{billingKey(nil, "1", "2026-11", "identified"), `billing key (team "1", month "2026-11", class "identified")`},
		{billingOffsetKey(nil, 5), `billing-offset key (billing_usage partition 5)`},
		{mappingKey(nil, strings.Repeat("t", 300), "x"), `mapping key (team "` + strings.Repeat("t", 64) + `"…, distinct_id ` + redact.Hash("x") + `)`},
		{appendPos(histPersonPrefix(nil, "1", pid), lpos{part: 2, off: 9, index: 1}), `lineage index key (team "1", person ` + pid.String() + `, identity_log partition 2, offset 9, index 1)`},
		{appendPos(histIDPrefix(nil, "1", histMoved, "a"), lpos{part: 0, off: 7}), `lineage index key (team "1", distinct_id ` + redact.Hash("a") + `, identity_log partition 0, offset 7, index 0)`},
		{histPersonPrefix(nil, "1", pid), `lineage index key (team "1", person ` + pid.String() + `)`},
		{[]byte("p/\x05ab"), `key with tag "p/" (5 bytes, malformed)`},
		{[]byte("zz"), `key with tag "zz" (2 bytes, malformed)`},
	} {
		if got := describeKey(tc.key); got != tc.want {
			t.Errorf("describeKey(%q)\n got %s\nwant %s", tc.key, got, tc.want)
		}
	}
}

// TestKeyErrorsRedacted pins issue 11's leak: Badger's error for a key over
// its 65,000-byte limit appends a hex dump of the key, and state errors
// quoted the raw key, so a distinct_id reached the log past log.redact. Now
// the error names the key's kind, team and the id's hash only.
func TestKeyErrorsRedacted(t *testing.T) {
	s, _ := openTest(t, testOptions(t))
	did := "secret-" + strings.Repeat("x", 70_000)
	err := s.Update(func(tx Tx) error {
		return tx.PutMapping("1", did, unionfind.Mapping{PersonID: unionfind.PersonID{1}, Version: 1})
	})
	if err == nil {
		t.Fatal("a 70 kB key was accepted")
	}
	msg := err.Error()
	for _, leak := range []string{"secret-", hex.EncodeToString([]byte("secret-")), "73 65 63 72 65 74"} {
		if strings.Contains(msg, leak) {
			t.Fatalf("the error leaks the id (%q): %.300s", leak, msg)
		}
	}
	if !strings.Contains(msg, `mapping key (team "1", distinct_id `+redact.Hash(did)+`)`) || !errors.Is(err, ErrKeyTooLarge) {
		t.Fatalf("error does not name the key and cause: %.300s", msg)
	}
	if strings.Contains(msg, "\n") {
		t.Fatalf("multi-line error: %.300s", msg)
	}

	// A corrupt value: the error names the key by its hash, keeps ErrCorrupt.
	must(t, s.eng.update(func(w kvWriter) error { return w.set(mappingKey(nil, "1", "user@example.com"), []byte{99}) }))
	_, _, err = s.Find("1", "user@example.com")
	if !errors.Is(err, ErrCorrupt) {
		t.Fatalf("Find of a corrupt mapping: %v", err)
	}
	if strings.Contains(err.Error(), "user@example.com") || !strings.Contains(err.Error(), redact.Hash("user@example.com")) {
		t.Fatalf("corrupt-mapping error: %v", err)
	}
}

// TestCauseText: the cause is cut at its first line break, and the key, in
// any rendering, is replaced.
func TestCauseText(t *testing.T) {
	k := []byte("d/\x011user-1")
	for _, tc := range []struct{ cause, want string }{
		{"get key: \"d/\\x011user-1\" error: boom", "get key: <key> error: boom"},
		{"Key with size 70007 exceeded 65000 limit. Key:\n00000000  64 2f", "Key with size 70007 exceeded 65000 limit. Key: (dump omitted)"},
		{"raw d/\x011user-1 here", "raw <key> here"},
		{"hex " + hex.EncodeToString(k), "hex <key>"},
	} {
		if got := causeText(errors.New(tc.cause), k); got != tc.want {
			t.Errorf("causeText(%q) = %q, want %q", tc.cause, got, tc.want)
		}
	}
}

// TestBadgerLoggerHidesKeys: Badger's messages that format keys ("Key: %v",
// "While reading key: %x") show their length only, and no dump after a line
// break.
func TestBadgerLoggerHidesKeys(t *testing.T) {
	key := []byte("d/\x011user@example.com")
	for _, tc := range []struct {
		f    string
		a    []any
		want string
	}{
		{"While reading key: %x, got error: %v", []any{key, errors.New("boom")}, "While reading key: [20 bytes], got error: boom"},
		{"Key: %v, Version : %v\n", []any{key, 3}, "Key: [20 bytes], Version : 3"},
		{"dump:\n%s", []any{"00000000  64 2f"}, "dump: (rest omitted)"},
		{"level %d done", []any{2}, "level 2 done"},
	} {
		if got := msg(tc.f, tc.a); got != tc.want {
			t.Errorf("msg(%q) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

// TestLineageIndexErrorNamesKey: a corrupt lineage index value found by a
// query is named by its own key — its row's position — not by the index
// prefix the query scanned.
func TestLineageIndexErrorNamesKey(t *testing.T) {
	s := NewMemory().Store
	k := appendPos(histIDPrefix(nil, "1", histMoved, "a"), lpos{part: 0, off: 7})
	must(t, s.eng.update(func(w kvWriter) error { return w.set(k, []byte{0xff}) }))
	_, err := s.Lineage("1", "a")
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "offset 7, index 0") || strings.Count(err.Error(), "lineage index key") != 1 {
		t.Fatalf("%v", err)
	}
}

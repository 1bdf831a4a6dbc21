package lifecycle

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/pkg/unionfind"
)

var at = time.Date(2026, 12, 5, 8, 0, 0, 0, time.UTC)

func TestRoundTrip(t *testing.T) {
	for _, c := range []Command{
		NewDelete("42", "user-1", true, at),
		NewDelete("42", "user:with:colons", false, at),
		NewSplit("team", []string{"a", "b", "c"}, true, at),
	} {
		b, err := c.Encode()
		require.NoError(t, err)
		got, err := Decode(b)
		require.NoError(t, err)
		assert.Equal(t, c, got)
	}
}

func TestOp(t *testing.T) {
	src := unionfind.Source{Topic: "identity_commands", Partition: 1, Offset: 7}
	d := NewDelete("42", "u", true, at)
	op := d.Op(src, 5)
	assert.Equal(t, unionfind.Op{Kind: unionfind.OpDeletePerson, Source: src, Team: "42", DistinctID: "u", EventUUID: d.RequestID, Timestamp: at.UnixMilli(), Block: true}, op)
	require.NoError(t, op.Validate())

	s := NewSplit("42", []string{"a", "b"}, true, at)
	s.RequestedAt = ""
	op = s.Op(src, 5)
	assert.Equal(t, unionfind.OpSplit, op.Kind)
	assert.Equal(t, "a", op.DistinctID)
	assert.Equal(t, []string{"b"}, op.SplitIDs)
	assert.True(t, op.NoProperties)
	assert.Equal(t, int64(5), op.Timestamp, "without requested_at the record's time")
}

func TestDecodeRefuses(t *testing.T) {
	long := strings.Repeat("x", unionfind.MaxDistinctIDRunes+1)
	many := `"a"` + strings.Repeat(`,"a"`, MaxDistinctIDs)
	for _, tc := range []struct{ name, in, want string }{
		{"null", "", "tombstone"},
		{"not json", `{`, "not a command object"},
		{"array", `[]`, "not a command object"},
		{"trailing", `{"v":1,"command":"delete","team":"t","distinct_ids":["a"],"request_id":"r"} {}`, "data after"},
		{"unknown field", `{"v":1,"command":"delete","team":"t","distinct_ids":["a"],"request_id":"r","blok":true}`, "unknown field"},
		{"version", `{"v":2,"command":"delete","team":"t","distinct_ids":["a"],"request_id":"r"}`, "v is 2"},
		{"kind", `{"v":1,"command":"drop","team":"t","distinct_ids":["a"],"request_id":"r"}`, "not delete or split"},
		{"delete two", `{"v":1,"command":"delete","team":"t","distinct_ids":["a","b"],"request_id":"r"}`, "exactly one"},
		{"delete no_properties", `{"v":1,"command":"delete","team":"t","distinct_ids":["a"],"no_properties":true,"request_id":"r"}`, "split option"},
		{"split block", `{"v":1,"command":"split","team":"t","distinct_ids":["a"],"block":true,"request_id":"r"}`, "delete option"},
		{"split none", `{"v":1,"command":"split","team":"t","distinct_ids":[],"request_id":"r"}`, "at least one"},
		{"empty team", `{"v":1,"command":"delete","team":" ","distinct_ids":["a"],"request_id":"r"}`, "team"},
		{"control team", `{"v":1,"command":"delete","team":"a\u0001","distinct_ids":["a"],"request_id":"r"}`, "team"},
		{"empty id", `{"v":1,"command":"delete","team":"t","distinct_ids":[""],"request_id":"r"}`, "distinct_ids[0] is empty"},
		{"long id", `{"v":1,"command":"delete","team":"t","distinct_ids":["` + long + `"],"request_id":"r"}`, "over 200 characters"},
		{"nul id", `{"v":1,"command":"delete","team":"t","distinct_ids":["a\u0000"],"request_id":"r"}`, "NUL"},
		{"too many", `{"v":1,"command":"split","team":"t","distinct_ids":[` + many + `],"request_id":"r"}`, "over 1000"},
		{"no request id", `{"v":1,"command":"delete","team":"t","distinct_ids":["a"]}`, "request_id"},
		{"bad time", `{"v":1,"command":"delete","team":"t","distinct_ids":["a"],"request_id":"r","requested_at":"yesterday"}`, "requested_at"},
		{"huge", `{"v":1,"x":"` + strings.Repeat("a", MaxBytes) + `"}`, "over"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var in []byte
			if tc.name != "null" {
				in = []byte(tc.in)
			}
			_, err := Decode(in)
			require.Error(t, err)
			assert.True(t, errors.Is(err, ErrInvalid))
			assert.Contains(t, err.Error(), tc.want)
			assert.Less(t, len(err.Error()), 400, "errors are bounded")
		})
	}
}

// FuzzDecode: nothing panics, and whatever decodes gives a valid op.
func FuzzDecode(f *testing.F) {
	b, _ := NewSplit("42", []string{"a", "b"}, false, at).Encode()
	f.Add(b)
	b, _ = NewDelete("42", "a", true, at).Encode()
	f.Add(b)
	f.Add([]byte(`{"v":1}`))
	f.Fuzz(func(t *testing.T, in []byte) {
		c, err := Decode(in)
		if err != nil {
			return
		}
		op := c.Op(unionfind.Source{Topic: "c"}, 0)
		if op.Kind != unionfind.OpSplit && op.Kind != unionfind.OpDeletePerson {
			t.Fatalf("kind %v", op.Kind)
		}
		if _, err := c.Encode(); err != nil {
			t.Fatalf("a decoded command does not encode: %v", err)
		}
	})
}

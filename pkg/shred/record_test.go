package shred

import (
	"bytes"
	"math"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRecordKey(t *testing.T) {
	for _, k := range []keyName{
		{"phc_abc", "user", 0, 9182736450},
		{"1", "a", math.MaxUint32, math.MaxUint64},
		{"t:1", "a:b:3:4", 7, 1},
		{"2:x", "1:y", 1, 2},
		{strings.Repeat("t", maxTeamBytes), strings.Repeat("😀", 200), 1, 1},
		{"t", "\x00\xff\n", 1, 1},
	} {
		b := appendRecordKey(nil, k.team, k.did, k.gen, k.kid)
		got, genLen, ok := parseRecordKey(b)
		require.True(t, ok, "%q", b)
		assert.Equal(t, k, got)
		assert.Equal(t, string(appendGenKey(nil, k.team, k.did, k.gen)), string(b[:genLen]))
	}
	assert.Equal(t, "7:phc_abc:4:user:0:9182736450", string(appendRecordKey(nil, "phc_abc", "user", 0, 9182736450)))

	// Ids with ':' cannot be confused: the same joined text, different keys.
	a := appendRecordKey(nil, "a:1", "b", 1, 1)
	b := appendRecordKey(nil, "a", "1:b", 1, 1)
	assert.NotEqual(t, string(a), string(b))
	c := appendGenKey(nil, "t", "a:1", 2)
	d := appendGenKey(nil, "t", "a", 12)
	assert.NotEqual(t, string(c), string(d))
}

func TestRecordKeyRefused(t *testing.T) {
	long := strings.Repeat("x", maxDistinctIDBytes+1)
	for name, s := range map[string]string{
		"empty":                     "",
		"plain colons":              "t:a:1:1",
		"key id 0":                  "1:t:1:a:1:0",
		"leading zero length":       "01:t:1:a:1:1",
		"leading zero generation":   "1:t:1:a:01:1",
		"leading zero key id":       "1:t:1:a:1:01",
		"generation over 2^32-1":    "1:t:1:a:4294967296:1",
		"key id over 2^64-1":        "1:t:1:a:1:18446744073709551616",
		"length longer than data":   "5:t:1:a:1:1",
		"length shorter than data":  "1:tt:1:a:1:1",
		"empty team":                "0::1:a:1:1",
		"empty distinct_id":         "1:t:0::1:1",
		"team over bound":           "201:" + strings.Repeat("t", 201) + ":1:a:1:1",
		"distinct_id over bound":    "801:" + "t:" + long,
		"huge length":               "99999999999999999999999:t",
		"missing key id":            "1:t:1:a:1",
		"missing key id after ':'":  "1:t:1:a:1:",
		"trailing junk":             "1:t:1:a:1:1x",
		"trailing colon":            "1:t:1:a:1:1:",
		"signed number":             "1:t:1:a:+1:1",
		"negative":                  "1:t:1:a:-1:1",
		"over the whole key bound":  "1:t:1:a:1:1" + strings.Repeat("0", maxRecordKeyBytes),
		"a tombstone-looking value": "\x00",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, ok := parseRecordKey([]byte(s))
			assert.False(t, ok)
		})
	}
}

// Whatever bytes a record key holds, parseRecordKey never panics, and a key
// it accepts is the one spelling appendRecordKey writes for what it read
// (so two spellings never name one key id), within the bounds.
func FuzzParseRecordKey(f *testing.F) {
	f.Add([]byte("7:phc_abc:4:user:0:9182736450"))
	f.Add([]byte("3:t:1:1:a:b:3:4"))
	f.Add([]byte("1:t:1:a:4294967295:18446744073709551615"))
	f.Fuzz(func(t *testing.T, b []byte) {
		k, genLen, ok := parseRecordKey(b)
		if !ok {
			return
		}
		if !bytes.Equal(appendRecordKey(nil, k.team, k.did, k.gen, k.kid), b) {
			t.Fatalf("%q parsed as %+v, which is spelled otherwise", b, k)
		}
		if !bytes.Equal(appendGenKey(nil, k.team, k.did, k.gen), b[:genLen]) {
			t.Fatalf("%q: generation prefix %q", b, b[:genLen])
		}
		if !validID(k.team, k.did) || k.kid == 0 {
			t.Fatalf("%q: out of bounds %+v", b, k)
		}
	})
}

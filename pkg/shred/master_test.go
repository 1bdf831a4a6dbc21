package shred

import (
	"errors"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const hexKey = "00112233445566778899aabbccddeeff00112233445566778899AABBCCDDEEFF"

func TestParseMasterKey(t *testing.T) {
	for _, tt := range []struct {
		name, in, want string // want "" = accepted, else part of the error
	}{
		{"mixed case", hexKey, ""},
		{"with a newline from a file", hexKey + "\n", ""},
		{"with spaces around", "  " + hexKey + "\t", ""},
		{"empty", "", "empty; want 64 hex digits"},
		{"blank", " \n", "empty"},
		{"63 digits", hexKey[:63], "63 characters, want 64 hex digits"},
		{"65 digits", hexKey + "0", "65 characters"},
		{"base64 of 32 bytes", "ABEiM0RVZneImaq7zN3u/wARIjNEVWZ3iJmqu8zd7v8=", "44 characters"},
		{"a non-hex character first", "g" + hexKey[1:], "character 1 is not a hex digit"},
		{"a non-hex character second of a pair", hexKey[:9] + "x" + hexKey[10:], "character 10 is not a hex digit"},
		{"a space inside", hexKey[:31] + " " + hexKey[32:], "character 32 is not a hex digit"},
		{"a multi-byte character", hexKey[:62] + "é", "character 63 is not a hex digit"},
		{"zeros", strings.Repeat("0", 64), "all zeros"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m, err := ParseMasterKey(tt.in)
			if tt.want == "" {
				require.NoError(t, err)
				require.NotNil(t, m)
				return
			}
			require.ErrorIs(t, err, ErrMasterKey)
			assert.Nil(t, m)
			assert.Contains(t, err.Error(), tt.want)
			// The error holds no piece of the key: no run of 6 of its
			// characters.
			in := strings.TrimSpace(tt.in)
			for i := 0; i+6 <= len(in); i++ {
				if strings.Trim(in[i:i+6], "0") == "" {
					continue // zeros: the message's own digits may match
				}
				assert.NotContains(t, err.Error(), in[i:i+6])
			}
		})
	}
}

func TestKeyValueWrapping(t *testing.T) {
	m1, err := ParseMasterKey(hexKey)
	require.NoError(t, err)
	m2, err := ParseMasterKey(strings.Repeat("1", 64))
	require.NoError(t, err)
	key, err := NewKey()
	require.NoError(t, err)
	rk := appendRecordKey(nil, "t", "a:b", 1, 9)
	other := appendRecordKey(nil, "t", "a:b", 1, 10)

	raw := encodeValue(nil, rk, key)
	assert.Len(t, raw, rawValueSize)
	wrapped := encodeValue(m1, rk, key)
	assert.Len(t, wrapped, wrappedValueSize)
	assert.NotContains(t, string(wrapped), string(key[:8]), "wrapped: the key does not show")
	assert.NotEqual(t, wrapped, encodeValue(m1, rk, key), "a fresh nonce per wrap")

	for _, tt := range []struct {
		name   string
		m      *MasterKey
		rk, v  []byte
		err    error // nil: opens to key
		reason string
	}{
		{"raw, no master key", nil, rk, raw, nil, ""},
		{"raw, master key set (written before one was)", m1, rk, raw, nil, ""},
		{"wrapped, its master key", m1, rk, wrapped, nil, ""},
		{"wrapped, another master key", m2, rk, wrapped, errUnwrap, ""},
		{"wrapped, no master key", nil, rk, wrapped, errNoMaster, ""},
		{"wrapped, moved to another record key", m1, other, wrapped, errUnwrap, ""},
		{"raw, short", nil, rk, raw[:32], errWrongSize, "raw key of 32 bytes, want 33"},
		{"raw, long", nil, rk, append(append([]byte(nil), raw...), 0), errWrongSize, ""},
		{"wrapped, short", m1, rk, wrapped[:40], errWrongSize, "wrapped key of 40 bytes, want 61"},
		{"unknown format", m1, rk, append([]byte{7}, key[:]...), errBadValue, "unknown value format 7"},
		{"one byte", nil, rk, []byte{0}, errWrongSize, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			got, err := decodeValue(tt.m, tt.rk, tt.v)
			if tt.err == nil {
				require.NoError(t, err)
				assert.Equal(t, key, got)
				return
			}
			require.True(t, errors.Is(err, tt.err), "%v", err)
			assert.Contains(t, err.Error(), tt.reason)
			assert.Equal(t, Key{}, got)
		})
	}
}

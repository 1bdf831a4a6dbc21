// Package teamrule is the one rule for what a team may be (docs/SEMANTICS.md
// §1, invalid_team), shared by the three places that judge a team: the
// decoder (pkg/event), the identity op's validation before it touches the
// store (pkg/unionfind) and a billing delta's validation before it reaches
// a total (pkg/billing). Each keeps its own errors; the rule and its
// wording live here, so that a team one of them accepts the others accept
// too.
package teamrule

import (
	"strconv"
	"strings"
	"unicode/utf8"
)

// MaxBytes is the longest team accepted, in bytes. A team is part of every
// identity key and billing key, so it is bounded like one.
const MaxBytes = 200

// Problem says what makes team unacceptable as a team, or "" when it is
// fine: longer than MaxBytes bytes, not valid UTF-8, holding a control
// character, or empty or whitespace only (unicode.IsSpace). The problems
// are checked in that order and the first found is reported, worded to
// follow "team ": "team is 201 bytes, over the limit of 200".
//
// Control characters are Unicode's general category Cc: C0
// (U+0000–U+001F), DEL (U+007F) and C1 (U+0080–U+009F), what
// unicode.IsControl reports. Other invisible characters (format characters
// such as U+200B or U+202E) are allowed: they harm no key or log line.
func Problem(team string) string {
	if len(team) > MaxBytes {
		return "is " + strconv.Itoa(len(team)) + " bytes, over the limit of " + strconv.Itoa(MaxBytes)
	}
	if !utf8.ValidString(team) {
		return "is not valid UTF-8"
	}
	if i := ControlAt(team); i >= 0 {
		return "holds a control character at byte " + strconv.Itoa(i)
	}
	if strings.TrimSpace(team) == "" {
		return "is empty or whitespace only"
	}
	return ""
}

// SWAR constants: lsb has the low bit of every byte set, msb the high bit.
const (
	lsb = 0x0101010101010101
	msb = 0x8080808080808080
)

// controlStart[c] is true for the bytes that are, or may start, a control
// character in UTF-8: C0, DEL, and 0xC2 (the lead byte of U+0080–U+00BF).
var controlStart = func() (t [256]bool) {
	for c := 0; c < 0x20; c++ {
		t[c] = true
	}
	t[0x7f], t[0xc2] = true, true
	return t
}()

// ControlAt returns the byte index of the first control character (C0,
// DEL, C1) in s, or -1. A C1 character is the two bytes 0xC2 0x80–0x9F,
// and 0xC2 is never a continuation byte, so the test is exact for any s,
// valid UTF-8 or not: it agrees with unicode.IsControl over the runes of s.
// It runs for every event decoded, so it skips plain ASCII eight bytes at
// a time.
func ControlAt(s string) int {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		del := x ^ (lsb * 0x7f)
		// High bit set in bytes < 0x20, == 0x7f or >= 0x80 (exact for the
		// lowest such byte, which is all that matters: the bytes from there
		// on are looked at one by one).
		if ((x-lsb*0x20)&^x|(del-lsb)&^del|x)&msb != 0 {
			break
		}
	}
	for ; i < len(s); i++ {
		if controlStart[s[i]] && (s[i] != 0xc2 || i+1 < len(s) && s[i+1] >= 0x80 && s[i+1] < 0xa0) {
			return i
		}
	}
	return -1
}

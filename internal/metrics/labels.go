package metrics

import (
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"
)

// Label values must not grow the number of series without bound, nor
// carry arbitrary bytes from input into the exposition: a team is input (a
// token or team_id of an event), and one series per team string would let
// anyone who can produce events exhaust the memory of the process and of
// Prometheus. So:
//
//   - a team label is the team sanitised (LabelValue) and capped in count
//     (admin.metrics_team_cap distinct values, then OtherTeam);
//   - a reason or type label (dead letters, warnings, merge refusals) comes
//     from the resolver's own fixed sets; anything that does not look like
//     one of them (an identifier of at most maxKindBytes lowercase ASCII
//     letters, digits, '_' and '$') is counted under OtherKind, and at most
//     maxKinds distinct values per metric get their own series.

// MaxLabelBytes bounds a team label value, in bytes.
const MaxLabelBytes = 64

// OtherKind is the reason or type label of a value outside the fixed sets.
const OtherKind = "other"

const (
	maxKindBytes = 64
	maxKinds     = 64
)

// LabelValue makes s a bounded label value: invalid UTF-8 and control and
// other non-printable characters replaced by U+FFFD, cut to at most
// MaxLabelBytes bytes at a character boundary ("…" marks the cut, within
// the bound). Distinct teams may share a label after the cut; they are
// then counted together.
func LabelValue(s string) string {
	if len(s) <= MaxLabelBytes && printable(s) {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		r, n := utf8.DecodeRuneInString(s[i:])
		if !unicode.IsPrint(r) { // also RuneError of an invalid byte
			r = utf8.RuneError
		}
		b.WriteRune(r)
		i += n
		if b.Len() > 4*MaxLabelBytes {
			break // enough to cut below; the rest is never looked at
		}
	}
	out := b.String()
	if len(out) <= MaxLabelBytes {
		return out
	}
	const ellipsis = "…"
	cut := MaxLabelBytes - len(ellipsis)
	for cut > 0 && !utf8.RuneStart(out[cut]) {
		cut--
	}
	return out[:cut] + ellipsis
}

func printable(s string) bool {
	if !utf8.ValidString(s) {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

// isKind reports whether s looks like a member of the resolver's fixed
// sets of reasons and types.
func isKind(s string) bool {
	if s == "" || len(s) > maxKindBytes {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '$') {
			return false
		}
	}
	return true
}

// kindLabels bounds the reason or type label values of one metric.
type kindLabels struct {
	mu   sync.Mutex
	seen map[string]struct{}
}

// label is s if it looks like a reason or type and fewer than maxKinds
// values have been seen (or s is one of them), else OtherKind.
func (k *kindLabels) label(s string) string {
	if !isKind(s) {
		return OtherKind
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if _, ok := k.seen[s]; ok {
		return s
	}
	if len(k.seen) >= maxKinds {
		return OtherKind
	}
	if k.seen == nil {
		k.seen = map[string]struct{}{}
	}
	k.seen[s] = struct{}{}
	return s
}

package state

import (
	"fmt"
	"strings"

	"go.uber.org/zap"
)

// badgerLogger adapts zap to badger.Logger (four methods). Badger ends most
// messages with a newline; it is trimmed. Badger's info is housekeeping
// (level tables at open and close, compaction and flush progress): it goes
// to debug, so an operator's info log stays about the resolver.
//
// Badger formats keys into some of its messages ("Key: %v", "While reading
// key: %x"), and our keys hold distinct ids: every []byte argument is
// printed as its length only, and a message is cut at its first line break
// (Badger appends hex dumps after one).
type badgerLogger struct {
	s *zap.SugaredLogger
}

func (l badgerLogger) Errorf(f string, a ...any)   { l.s.Error(msg(f, a)) }
func (l badgerLogger) Warningf(f string, a ...any) { l.s.Warn(msg(f, a)) }
func (l badgerLogger) Infof(f string, a ...any)    { l.s.Debug(msg(f, a)) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.s.Debug(msg(f, a)) }

// hiddenBytes stands for a []byte argument of a Badger message.
type hiddenBytes int

// Format prints the length whatever the verb (%v, %x, %q, %s).
func (h hiddenBytes) Format(st fmt.State, _ rune) { fmt.Fprintf(st, "[%d bytes]", int(h)) }

func msg(f string, a []any) string {
	copied := false
	for i, v := range a {
		if b, ok := v.([]byte); ok {
			if !copied { // the caller's slice stays as it was
				a, copied = append([]any(nil), a...), true
			}
			a[i] = hiddenBytes(len(b))
		}
	}
	m := strings.TrimRight(fmt.Sprintf(f, a...), "\n")
	if i := strings.IndexByte(m, '\n'); i >= 0 {
		m = m[:i] + " (rest omitted)"
	}
	return m
}

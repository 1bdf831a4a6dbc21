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
type badgerLogger struct {
	s *zap.SugaredLogger
}

func (l badgerLogger) Errorf(f string, a ...any)   { l.s.Error(msg(f, a)) }
func (l badgerLogger) Warningf(f string, a ...any) { l.s.Warn(msg(f, a)) }
func (l badgerLogger) Infof(f string, a ...any)    { l.s.Debug(msg(f, a)) }
func (l badgerLogger) Debugf(f string, a ...any)   { l.s.Debug(msg(f, a)) }

func msg(f string, a []any) string {
	return strings.TrimRight(fmt.Sprintf(f, a...), "\n")
}

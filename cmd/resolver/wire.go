package main

import (
	"fmt"

	"go.uber.org/zap"

	"github.com/resolver-dev/resolver/pkg/state"
	"github.com/resolver-dev/resolver/pkg/stream"
)

// openState is the real openStateFunc: a Badger store in dir.
func openState(dir string, sc StateConfig, log *zap.Logger) (stateStore, error) {
	o := sc.storeOptions()
	o.Logger = log
	o.MinFreeBytes = uint64(sc.MinFreeBytes) // validated: not negative
	st, err := state.Open(dir, o)
	if err != nil {
		if state.IsLocked(err) {
			return nil, fmt.Errorf("state directory %s is locked by another process: is another resolver running with the same state.dir? (%w)", dir, err)
		}
		return nil, fmt.Errorf("open state %s: %w", dir, err)
	}
	return store{st}, nil
}

// store is a *state.Store that builds its pipeline.
type store struct{ *state.Store }

func (s store) Pipeline(cfg stream.Config, log *zap.Logger) (pipeline, error) {
	return stream.New(cfg, s.Store, log)
}

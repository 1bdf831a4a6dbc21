package main

import (
	"errors"
	"fmt"
)

// Exit codes of the resolver process.
const (
	exitOK      = 0 // success, including a clean shutdown on SIGINT/SIGTERM
	exitFailure = 1 // any runtime failure; also a second signal during shutdown
	exitConfig  = 2 // invalid configuration or command line: nothing was started
)

// configError is a configuration that cannot be used: a file that cannot be
// read, an unknown key, a value of the wrong type. Invalid values are
// *FieldError; both exit with exitConfig.
type configError struct{ err error }

func (e *configError) Error() string { return e.err.Error() }
func (e *configError) Unwrap() error { return e.err }

func configErrorf(format string, args ...any) error {
	return &configError{fmt.Errorf("config: "+format, args...)}
}

// usageError is a bad command line: an unknown command or flag, a flag value
// that does not parse, a stray argument. It exits with exitConfig.
type usageError struct {
	err     error
	command string // command path, for the "see --help" hint
}

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// exitCode maps the error a command returned to the process exit code.
func exitCode(err error) int {
	if err == nil {
		return exitOK
	}
	var fe *FieldError
	var ce *configError
	var ue *usageError
	if errors.As(err, &fe) || errors.As(err, &ce) || errors.As(err, &ue) {
		return exitConfig
	}
	return exitFailure
}

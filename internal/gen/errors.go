package gen

import "errors"

// ErrInvalidConfig is wrapped by every error Config.Validate returns; the
// message names the field and the bad value.
var ErrInvalidConfig = errors.New("invalid generator config")

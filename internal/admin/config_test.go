package admin_test

import (
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/resolver-dev/resolver/internal/admin"
)

// TestConfigValidate: each rule names its key and value (never the token)
// and unwraps to its sentinel; cmd/resolver's TestValidateAdminExposure
// pins the same rules through the config file's keys.
func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg      admin.Config
		key, msg string
		sentinel error
	}{
		{admin.Config{Addr: "localhost"}, "admin.addr", `admin: admin.addr: "localhost": must be host:port`, admin.ErrInvalidConfig},
		{admin.Config{Addr: ""}, "admin.addr", `admin: admin.addr: "": must be host:port`, admin.ErrInvalidConfig},
		{admin.Config{Addr: "0.0.0.0:9464"}, "admin.addr", `admin: admin.addr: "0.0.0.0:9464": is not a loopback address and admin.token is empty`, admin.ErrNoToken},
		{admin.Config{Addr: "127.0.0.1:9464", Token: "two words"}, "admin.token", `admin: admin.token: "(not shown)": must not contain spaces or control characters`, admin.ErrInvalidConfig},
	} {
		err := tc.cfg.Validate()
		var ce *admin.ConfigError
		require.True(t, errors.As(err, &ce), "%+v: %v", tc.cfg, err)
		assert.Equal(t, tc.key, ce.Key)
		assert.Contains(t, err.Error(), tc.msg)
		assert.ErrorIs(t, err, tc.sentinel)
		assert.NotContains(t, err.Error(), "two words")
	}
	for _, ok := range []admin.Config{
		{Addr: "127.0.0.1:0"}, {Addr: "[::1]:9464"}, {Addr: "localhost:9464"},
		{Addr: "0.0.0.0:9464", Token: "s3cret"}, {Addr: ":9464", Token: "s3cret"},
	} {
		assert.NoError(t, ok.Validate(), "%+v", ok)
	}
}

package hostport

import (
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct {
		addr   string
		listen bool
		want   string // "" for valid
	}{
		{"kafka1:9092", false, ""},
		{"[::1]:9092", false, ""},
		{"127.0.0.1:0", true, ""},
		{":9464", true, ""},
		{"kafka1", false, "must be host:port"},
		{"", false, "must be host:port"},
		{"kafka1:0", false, `port "0" is not a port number`},
		{"127.0.0.1:99999", true, `port "99999" is not a port number`},
		{"h:http", false, `port "http" is not a port number`},
		{":9092", false, "host is empty"},
	} {
		err := Check(tc.addr, tc.listen)
		if tc.want == "" {
			assert.NoError(t, err, tc.addr)
		} else {
			assert.EqualError(t, err, tc.want, tc.addr)
		}
	}
}

package redisqueue

import (
	"testing"

	"github.com/sockudo/sockudo-go/engine/redistest"
)

// startRedis runs a private redis-server for the test (see redistest) and
// returns its URL.
func startRedis(t *testing.T, unix bool) string {
	t.Helper()
	return redistest.Start(t, unix).URL
}

//go:build !race

package protobufwire

import (
	"testing"

	"github.com/sockudo/sockudo-go/protocol/internal/codectest"
)

// A broadcast is encoded once per publish per format, straight into its
// frame: the encode itself allocates nothing.
func TestEncodeBroadcastAllocatesNothing(t *testing.T) {
	codectest.EncodeBroadcastAllocatesNothing(t, Codec{})
}

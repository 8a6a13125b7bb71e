package msgpackwire

import (
	"testing"

	"github.com/sockudo/sockudo-go/protocol/internal/codectest"
)

func BenchmarkEncodeBroadcast(b *testing.B) { codectest.BenchmarkEncodeBroadcast(b, Codec{}) }

func BenchmarkDecodeClientEvent(b *testing.B) { codectest.BenchmarkDecodeClientEvent(b, Codec{}) }

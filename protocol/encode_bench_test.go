package protocol

import (
	"strings"
	"testing"
)

func BenchmarkAppendEvent(b *testing.B) {
	data := `{"message":"hello world","user":{"id":42,"name":"Ada"},"items":[1,2,3]}`
	dst := make([]byte, 0, 1024)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dst = AppendEvent(dst[:0], "my-event", "presence-room", data, "")
	}
}

func BenchmarkAppendEvent_10KiB(b *testing.B) {
	data := strings.Repeat(`{"k":"v"},`, 1024)
	dst := make([]byte, 0, 16<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dst = AppendEvent(dst[:0], "my-event", "my-channel", data, "")
	}
}

func BenchmarkAppendError(b *testing.B) {
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendError(dst[:0], CodeClientEventRejected, "Client event rejected", "private-a")
	}
}

func BenchmarkAppendConnectionEstablished(b *testing.B) {
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendConnectionEstablished(dst[:0], "123456.7890123", 120)
	}
}

func BenchmarkAppendFrame(b *testing.B) {
	payload := make([]byte, 200)
	dst := make([]byte, 0, 256)
	b.ReportAllocs()
	for b.Loop() {
		dst = AppendFrame(dst[:0], OpText, payload)
	}
}

// BenchmarkAppendEvent_Encrypted is the quote-free base64 case of
// encrypted channels, where the word-at-a-time scan pays off.
func BenchmarkAppendEvent_Encrypted(b *testing.B) {
	data := `{"nonce":"` + strings.Repeat("QUJD", 8) + `","ciphertext":"` + strings.Repeat("aGVsbG8gd29ybGQh", 128) + `"}`
	dst := make([]byte, 0, 4096)
	b.ReportAllocs()
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		dst = AppendEvent(dst[:0], "my-event", "private-encrypted-x", data, "")
	}
}

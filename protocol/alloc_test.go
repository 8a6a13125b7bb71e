//go:build !race

package protocol

import (
	"bytes"
	"testing"
)

// checkNoAllocs fails t when fn allocates.
func checkNoAllocs(t *testing.T, name string, fn func()) {
	t.Helper()
	if n := testing.AllocsPerRun(100, fn); n != 0 {
		t.Errorf("%s: %v allocations per run, want 0", name, n)
	}
}

func TestNoAllocs(t *testing.T) {
	dst := make([]byte, 0, 4096)
	data := `{"message":"hello \"world\"","n":[1,2,3]}`
	checkNoAllocs(t, "AppendEvent", func() {
		dst = AppendEvent(dst[:0], "my-event", "presence-room", data, "user-1")
	})
	checkNoAllocs(t, "AppendEventObject", func() {
		dst = AppendEventObject(dst[:0], EventPong, "", []byte("{}"))
	})
	checkNoAllocs(t, "AppendError", func() {
		dst = AppendError(dst[:0], CodeClientEventRejected, "Client event rejected", "private-a")
	})
	checkNoAllocs(t, "AppendConnectionEstablished", func() {
		dst = AppendConnectionEstablished(dst[:0], "123456.7890123", 120)
	})
	checkNoAllocs(t, "AppendSubscriptionError", func() {
		dst = AppendSubscriptionError(dst[:0], "private-a", "AuthError", "Invalid signature", 401)
	})
	checkNoAllocs(t, "AppendSocketID", func() {
		dst = AppendSocketID(dst[:0], 123456, 7890123)
	})
	payload := bytes.Repeat([]byte("p"), 300)
	checkNoAllocs(t, "AppendFrame", func() {
		dst = AppendFrame(dst[:0], OpText, payload)
	})
	checkNoAllocs(t, "AppendCloseFrame", func() {
		dst = AppendCloseFrame(dst[:0], CodeReconnect, CodeReconnect.Reason())
	})
}

func TestNoAllocsDecode(t *testing.T) {
	var m ClientMessage
	for _, frame := range pusherJSFrames {
		in := []byte(frame)
		checkNoAllocs(t, "DecodeClientMessage "+frame, func() {
			if DecodeClientMessage(in, &m) != nil {
				t.Fatal("decode failed")
			}
		})
	}
}

// sinks keep the checked calls' results alive, so the compiler cannot drop
// the calls whose allocations are measured.
var (
	sinkKind Kind
	sinkBool bool
)

func TestNoAllocsChannel(t *testing.T) {
	checkNoAllocs(t, "ParseChannel", func() {
		sinkKind, sinkBool = ParseChannel("private-encrypted-cache-room")
		sinkKind, sinkBool = ParseChannel("presence-room")
	})
	checkNoAllocs(t, "ValidChannelName", func() {
		sinkBool = ValidChannelName("private-encrypted-cache-room", DefaultMaxChannelNameLength)
	})
	checkNoAllocs(t, "ValidSocketID", func() { sinkBool = ValidSocketID("123456.7890123") })
}

func TestNoAllocsVerifyChannelAuth(t *testing.T) {
	const channelData = `{"user_id":10,"user_info":{"name":"Mr. Pusher"}}`
	auth := vecKey + ":" + SignChannel(vecSecret, vecSocket, "presence-foobar", channelData)
	checkNoAllocs(t, "VerifyChannelAuth", func() {
		if !VerifyChannelAuth(vecKey, vecSecret, auth, vecSocket, "presence-foobar", channelData) {
			t.Fatal("rejected")
		}
	})
	userAuth := vecKey + ":" + SignUser(vecSecret, vecSocket, `{"id":"12345"}`)
	checkNoAllocs(t, "VerifyUserAuth", func() {
		if !VerifyUserAuth(vecKey, vecSecret, userAuth, vecSocket, `{"id":"12345"}`) {
			t.Fatal("rejected")
		}
	})
}

func TestNoAllocsFrameReader(t *testing.T) {
	frame := clientFrame(true, OpText, bytes.Repeat([]byte("a"), 200))
	r := FrameReader{MaxMessage: 1 << 16}
	fn := func(Opcode, []byte) error { return nil }
	checkNoAllocs(t, "FrameReader.Feed 200-byte text frame", func() {
		if r.Feed(frame, fn) != nil {
			t.Fatal("feed failed")
		}
	})
	batch := append(clientFrame(true, OpText, []byte(pusherJSFrames[8])), clientFrame(true, OpPing, nil)...)
	checkNoAllocs(t, "FrameReader.Feed frame + ping", func() {
		if r.Feed(batch, fn) != nil {
			t.Fatal("feed failed")
		}
	})
}

package protocol

import (
	"bytes"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
)

func TestAppendFrameHeader(t *testing.T) {
	f := func(op Opcode, n int, want string) {
		t.Helper()
		if got := hex.EncodeToString(AppendFrameHeader(nil, op, n)); got != want {
			t.Fatalf("AppendFrameHeader(%d, %d) = %s, want %s", op, n, got, want)
		}
	}
	f(OpText, 0, "8100")
	f(OpText, 125, "817d")
	f(OpText, 126, "817e007e")
	f(OpBinary, 65535, "827effff")
	f(OpText, 65536, "817f0000000000010000")
	f(OpPing, 3, "8903")
	if len(AppendFrameHeader(nil, OpText, 1<<40)) != MaxFrameHeader {
		t.Fatal("64-bit header is not MaxFrameHeader bytes")
	}
}

func TestAppendFrame(t *testing.T) {
	got := AppendFrame([]byte("x"), OpText, []byte("hello"))
	if string(got) != "x\x81\x05hello" {
		t.Fatalf("AppendFrame = %q", got)
	}
	big := bytes.Repeat([]byte("a"), 300)
	got = AppendFrame(nil, OpText, big)
	if !bytes.Equal(got[:4], []byte{0x81, 126, 1, 44}) || !bytes.Equal(got[4:], big) {
		t.Fatalf("AppendFrame 300 = % x...", got[:8])
	}
}

func TestAppendCloseFrame(t *testing.T) {
	f := func(code Code, reason, wantReason string) {
		t.Helper()
		frame := AppendCloseFrame(nil, code, reason)
		if frame[0] != 0x88 || int(frame[1]) != len(frame)-2 || len(frame)-2 > 125 {
			t.Fatalf("AppendCloseFrame header % x (len %d)", frame[:2], len(frame))
		}
		gotCode, gotReason, err := ParseClosePayload(frame[2:])
		if err != nil || gotCode != code || gotReason != wantReason {
			t.Fatalf("AppendCloseFrame(%d, %q) parses as %d %q %v", code, reason, gotCode, gotReason, err)
		}
	}
	f(CodeNormal, "", "")
	f(CodeReconnect, CodeReconnect.Reason(), CodeReconnect.Reason())
	f(CodeWatchlistLimit, CodeWatchlistLimit.Reason(), CodeWatchlistLimit.Reason())
	long := strings.Repeat("a", 123)
	f(CodeUnauthorized, long+"b", long)
	f(CodeUnauthorized, strings.Repeat("a", 122)+"é", strings.Repeat("a", 122))
	f(CodeUnauthorized, strings.Repeat("a", 121)+"€", strings.Repeat("a", 121))
	f(CodeUnauthorized, strings.Repeat("a", 120)+"€", strings.Repeat("a", 120)+"€")
	f(CodeUnauthorized, strings.Repeat("😀", 40), strings.Repeat("😀", 30))
	for code := range codeReasons {
		if len(code.Reason()) > 123 {
			t.Fatalf("reason of %d is too long for a close frame", code)
		}
	}
}

func TestParseClosePayload(t *testing.T) {
	f := func(p string, code Code, reason string, errCode Code) {
		t.Helper()
		gotCode, gotReason, err := ParseClosePayload([]byte(p))
		var pe *Error
		switch {
		case errCode != 0 && (!errors.As(err, &pe) || pe.Code != errCode):
			t.Fatalf("ParseClosePayload(%q) error %v, want code %d", p, err, errCode)
		case errCode == 0 && (err != nil || gotCode != code || gotReason != reason):
			t.Fatalf("ParseClosePayload(%q) = %d %q %v", p, gotCode, gotReason, err)
		}
	}
	f("", CodeNoStatus, "", 0)
	f("\x03\xe8", CodeNormal, "", 0)
	f("\x03\xe8bye", CodeNormal, "bye", 0)
	f("\x0f\xa0x", 4000, "x", 0)
	f("\x0b\xb8", 3000, "", 0)
	f("\x13\x87", 4999, "", 0)
	f("\x03\xf6", 1014, "", 0)
	f("\x03", 0, "", CodeProtocolError)
	for _, bad := range []int{0, 999, 1004, 1005, 1006, 1015, 1016, 2999, 5000, 65535} {
		f(string([]byte{byte(bad >> 8), byte(bad)}), 0, "", CodeProtocolError)
	}
	f("\x03\xe8\xff", 0, "", CodeInvalidPayload)
	f("\x03\xe8\xe2\x82", 0, "", CodeInvalidPayload)
}

func TestMaskCopy(t *testing.T) {
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for n := 0; n < 40; n++ {
		for pos := 0; pos < 4; pos++ {
			b := make([]byte, n)
			for i := range b {
				b[i] = byte(i * 7)
			}
			orig := append([]byte(nil), b...)
			out := make([]byte, n+3)
			maskCopy(out, b, key, pos)
			for i := range b {
				if out[i] != orig[i]^key[(pos+i)%4] || b[i] != orig[i] {
					t.Fatalf("n %d pos %d: byte %d wrong", n, pos, i)
				}
			}
		}
	}
}

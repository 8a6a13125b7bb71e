package protocol

import (
	"math"
	"testing"
)

func TestValidSocketID(t *testing.T) {
	f := func(s string, want bool) {
		t.Helper()
		if ValidSocketID(s) != want {
			t.Fatalf("ValidSocketID(%q) = %v", s, !want)
		}
	}
	f("123.456", true)
	f("0.0", true)
	f("445294.25458239", true)
	f("", false)
	f(".", false)
	f("1.", false)
	f(".1", false)
	f("1", false)
	f("1.2.3", false)
	f("1..2", false)
	f("a.1", false)
	f("1.2 ", false)
	f("-1.2", false)
	f("١.٢", false) // Arabic-Indic digits are not \d for the SDKs
}

func TestAppendSocketID(t *testing.T) {
	f := func(a, b uint64, want string) {
		t.Helper()
		got := string(AppendSocketID([]byte("x"), a, b))
		if got != "x"+want {
			t.Fatalf("AppendSocketID(%d, %d) = %q", a, b, got)
		}
		if !ValidSocketID(want) {
			t.Fatalf("%q is not a valid socket id", want)
		}
	}
	f(0, 0, "0.0")
	f(123, 456, "123.456")
	f(math.MaxUint64, 1, "18446744073709551615.1")
}

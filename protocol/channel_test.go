package protocol

import (
	"strings"
	"testing"
)

func TestParseChannel(t *testing.T) {
	f := func(name string, kind Kind, cache bool) {
		t.Helper()
		k, c := ParseChannel(name)
		if k != kind || c != cache {
			t.Fatalf("ParseChannel(%q) = %v, %v; want %v, %v", name, k, c, kind, cache)
		}
	}
	f("", KindPublic, false)
	f("plain", KindPublic, false)
	f("cache-x", KindPublic, true)
	f("cache-", KindPublic, true)
	f("cache", KindPublic, false)
	f("x-cache-y", KindPublic, false)
	f("private-a", KindPrivate, false)
	f("private-", KindPrivate, false)
	f("private", KindPublic, false)
	f("private-cache-a", KindPrivate, true)
	f("private-x-cache-a", KindPrivate, false)
	f("private-encrypted-a", KindEncrypted, false)
	f("private-encrypted-cache-a", KindEncrypted, true)
	f("private-encrypted", KindPrivate, false)
	f("private-cache-encrypted-a", KindPrivate, true)
	f("presence-room", KindPresence, false)
	f("presence-cache-room", KindPresence, true)
	f("presence-encrypted-room", KindPresence, false)
	f("Private-a", KindPublic, false)
	f("#server-to-user-u1", KindServerToUser, false)
	f("#server-to-user-", KindServerToUser, false)
	f("#server-to-use", KindPublic, false)
}

func TestValidChannelName(t *testing.T) {
	f := func(name string, maxLen int, want bool) {
		t.Helper()
		if got := ValidChannelName(name, maxLen); got != want {
			t.Fatalf("ValidChannelName(%q, %d) = %v", name, maxLen, got)
		}
	}
	f("", 200, false)
	f("a", 200, true)
	f("AZaz09_-=@,.;", 200, true)
	f("private-encrypted-cache-x", 200, true)
	f("#server-to-user-1", 200, false)
	f("a b", 200, false)
	f("a:b", 200, false)
	f("a/b", 200, false)
	f("é", 200, false)
	f("a\x00", 200, false)
	f(strings.Repeat("a", 200), 200, true)
	f(strings.Repeat("a", 201), 200, false)
	f("abc", 2, false)
	f("a", 0, false)
	for c := 0; c < 256; c++ {
		want := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("_-=@,.;", byte(c)) >= 0
		f(string([]byte{byte(c)}), 10, want)
	}
}

func TestServerToUserID(t *testing.T) {
	f := func(name, id string, ok bool) {
		t.Helper()
		gotID, gotOK := ServerToUserID(name)
		if gotID != id || gotOK != ok {
			t.Fatalf("ServerToUserID(%q) = %q, %v", name, gotID, gotOK)
		}
	}
	f("#server-to-user-u1", "u1", true)
	f("#server-to-user-", "", false)
	f("server-to-user-u1", "", false)
	f("private-u1", "", false)
}

func TestKindLabelAndAuth(t *testing.T) {
	f := func(k Kind, label string, auth bool) {
		t.Helper()
		if k.Label() != label || k.RequiresAuth() != auth {
			t.Fatalf("%d: %q %v", k, k.Label(), k.RequiresAuth())
		}
	}
	f(KindPublic, "public", false)
	f(KindPrivate, "private", true)
	f(KindPresence, "presence", true)
	f(KindEncrypted, "private_encrypted", true)
	f(KindServerToUser, "server_to_user", false)
	f(Kind(99), "unknown", false)
}

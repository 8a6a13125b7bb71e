package protocol

import "testing"

func TestOriginMatches(t *testing.T) {
	f := func(allowed []string, origin string, want bool) {
		t.Helper()
		if got := OriginMatches(allowed, origin); got != want {
			t.Errorf("OriginMatches(%q, %q) = %v, want %v", allowed, origin, got, want)
		}
	}
	wild := []string{"*.example.com"}
	f(wild, "https://a.example.com", true)
	f(wild, "https://a.b.example.com", true)
	f(wild, "https://example.com", false)
	f(wild, "https://badexample.com", false)
	f(wild, "https://example.com.evil.com", false)
	f([]string{"https://*.example.com"}, "http://a.example.com", false)
	f([]string{"https://app.test"}, "https://APP.test", true)
	f([]string{"https://app.test"}, "https://app.test:8443", false)
	f([]string{"app.test"}, "https://app.test", true)
	f([]string{"*"}, "https://anything", true)
	f(nil, "https://anything", false)
}

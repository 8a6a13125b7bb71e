package protocol

import (
	"encoding/hex"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"
)

// The docs worked example (pusher-protocol.md §2.3).
const (
	docsBody = `{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}`
	docsMD5  = "ec365a775a4cd0599faeb73354201b6f"
	docsTS   = 1353088179
	docsSig  = "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c"
)

func docsQuery() string {
	return "auth_key=" + vecKey + "&auth_timestamp=1353088179&auth_version=1.0&body_md5=" + docsMD5 +
		"&auth_signature=" + docsSig
}

func TestVerifyRequestDocsVector(t *testing.T) {
	now := time.Unix(docsTS, 0)
	if err := VerifyRequest("POST", "/apps/3/events", docsQuery(), []byte(docsBody), vecKey, vecSecret, now); err != nil {
		t.Fatalf("docs vector rejected: %v", err)
	}
	got := SignRequest("POST", "/apps/3/events", nil, []byte(docsBody), vecKey, vecSecret, now)
	if !strings.Contains(got, "auth_signature="+docsSig) {
		t.Fatalf("SignRequest = %s, want signature %s", got, docsSig)
	}
	want := "auth_key=" + vecKey + "&auth_signature=" + docsSig + "&auth_timestamp=1353088179&auth_version=1.0&body_md5=" + docsMD5
	if got != want {
		t.Fatalf("SignRequest order:\n got %s\nwant %s", got, want)
	}
}

func TestVerifyRequestRejects(t *testing.T) {
	now := time.Unix(docsTS, 0)
	body := []byte(docsBody)
	f := func(method, path, query string, body []byte, want string) {
		t.Helper()
		err := VerifyRequest(method, path, query, body, vecKey, vecSecret, now)
		var rae *RequestAuthError
		if !errors.As(err, &rae) {
			t.Fatalf("VerifyRequest(%q) = %v, want *RequestAuthError", query, err)
		}
		if !strings.Contains(rae.Reason, want) {
			t.Fatalf("VerifyRequest(%q) = %q, want %q", query, rae.Reason, want)
		}
	}
	q := docsQuery()
	drop := func(name string) string {
		var kept []string
		for _, p := range strings.Split(q, "&") {
			if !strings.HasPrefix(p, name+"=") {
				kept = append(kept, p)
			}
		}
		return strings.Join(kept, "&")
	}
	set := func(name, v string) string { return drop(name) + "&" + name + "=" + v }
	f("POST", "/apps/3/events", "", body, "missing auth_key")
	f("POST", "/apps/3/events", drop("auth_key"), body, "missing auth_key")
	f("POST", "/apps/3/events", drop("auth_timestamp"), body, "missing auth_timestamp")
	f("POST", "/apps/3/events", drop("auth_version"), body, "missing auth_version")
	f("POST", "/apps/3/events", drop("auth_signature"), body, "missing auth_signature")
	f("POST", "/apps/3/events", drop("body_md5"), body, "missing body_md5")
	f("POST", "/apps/3/events", set("auth_key", "other"), body, "invalid auth_key")
	f("POST", "/apps/3/events", set("auth_version", "2.0"), body, "auth_version")
	f("POST", "/apps/3/events", set("auth_timestamp", "x"), body, "invalid auth_timestamp")
	f("POST", "/apps/3/events", set("auth_timestamp", "1353087578"), body, "expired")
	f("POST", "/apps/3/events", set("auth_timestamp", "1353088780"), body, "expired")
	f("POST", "/apps/3/events", set("auth_timestamp", "-9223372036854775808"), body, "expired")
	f("POST", "/apps/3/events", set("body_md5", "00"), body, "body_md5")
	f("POST", "/apps/3/events", set("auth_signature", "zz"), body, "invalid auth_signature")
	f("POST", "/apps/3/events", set("auth_signature", strings.Repeat("0", 64)), body, "invalid signature")
	f("POST", "/apps/3/events", q+"&extra=1", body, "invalid signature")
	f("GET", "/apps/3/events", q, body, "invalid signature")
	f("POST", "/apps/4/events", q, body, "invalid signature")
	f("POST", "/apps/3/events", q, []byte(docsBody+" "), "body_md5")
	f("POST", "/apps/3/events", q+"&bad=%zz", body, "invalid query")
}

func TestVerifyRequestSkewBoundary(t *testing.T) {
	q := SignRequest("GET", "/apps/1/channels", nil, nil, "k", "s", time.Unix(1000, 0))
	for _, at := range []int64{400, 1000, 1600} {
		if err := VerifyRequest("GET", "/apps/1/channels", q, nil, "k", "s", time.Unix(at, 0)); err != nil {
			t.Fatalf("at %d: %v", at, err)
		}
	}
	for _, at := range []int64{399, 1601} {
		if VerifyRequest("GET", "/apps/1/channels", q, nil, "k", "s", time.Unix(at, 0)) == nil {
			t.Fatalf("at %d: accepted", at)
		}
	}
}

func TestSignRequestRoundTrip(t *testing.T) {
	now := time.Unix(1700000000, 0)
	f := func(method, path string, params map[string]string, body string) {
		t.Helper()
		q := SignRequest(method, path, params, []byte(body), "app-key", "app-secret", now)
		if err := VerifyRequest(method, path, q, []byte(body), "app-key", "app-secret", now); err != nil {
			t.Fatalf("round trip %s %s %v: %v (query %s)", method, path, params, err, q)
		}
		for k, v := range params {
			if reservedParam(strings.ToLower(k)) {
				continue
			}
			if got, ok := QueryValue(q, k); !ok || got != v {
				t.Fatalf("QueryValue(%q) = %q, %v; want %q", k, got, ok, v)
			}
		}
		if _, ok := QueryValue(q, "body_md5"); ok != (body != "") {
			t.Fatalf("body_md5 present = %v with body %q", ok, body)
		}
	}
	f("GET", "/apps/1/channels", nil, "")
	f("GET", "/apps/1/channels", map[string]string{"filter_by_prefix": "presence-", "info": "user_count"}, "")
	f("GET", "/apps/1/channels", map[string]string{"filter_by_prefix": "a;b", "info": "user_count,subscription_count"}, "")
	f("GET", "/apps/1/channels", map[string]string{"x": "a&b=c d+e%f", "Y": "ünï"}, "")
	f("GET", "/apps/1/channels", map[string]string{"auth_key": "evil", "Body_MD5": "x"}, "")
	f("POST", "/apps/1/events", nil, `{"name":"e","channel":"c","data":"{}"}`)
	f("POST", "/apps/1/users/u%201/terminate_connections", nil, "{}")
}

func TestVerifyRequestDecodedPath(t *testing.T) {
	now := time.Unix(1700000000, 0)
	// A client that signed the decoded path while the URL carries it escaped.
	q := SignRequest("POST", "/apps/1/users/a b/terminate_connections", nil, []byte("{}"), "k", "s", now)
	if err := VerifyRequest("POST", "/apps/1/users/a%20b/terminate_connections", q, []byte("{}"), "k", "s", now); err != nil {
		t.Fatal(err)
	}
}

func TestVerifyRequestGoSDKStyle(t *testing.T) {
	// The Go SDK sends unescaped values, auth_signature in sorted position,
	// and a value with ';' that net/url would drop.
	now := time.Unix(1700000000, 0)
	toSign := "auth_key=k&auth_timestamp=1700000000&auth_version=1.0&filter_by_prefix=a;b&info=user_count,subscription_count"
	sum := macSum("s", "GET\n/apps/1/channels\n", toSign)
	sig := hex.EncodeToString(sum[:])
	q := "auth_key=k&auth_signature=" + sig + "&auth_timestamp=1700000000&auth_version=1.0&filter_by_prefix=a;b&info=user_count,subscription_count"
	if err := VerifyRequest("GET", "/apps/1/channels", q, nil, "k", "s", now); err != nil {
		t.Fatal(err)
	}
	if v, _ := QueryValue(q, "filter_by_prefix"); v != "a;b" {
		t.Fatalf("filter_by_prefix = %q", v)
	}
	if _, err := url.ParseQuery(q); err == nil {
		t.Fatal("expected net/url to choke on ';' (the reason for the raw parser)")
	}
	// Uppercase keys are signed lowercased.
	toSign = "auth_key=k&auth_timestamp=1700000000&auth_version=1.0&info=x"
	sum = macSum("s", "GET\n/apps/1/channels\n", toSign)
	q = "AUTH_KEY=k&auth_signature=" + hex.EncodeToString(sum[:]) + "&Auth_Timestamp=1700000000&auth_version=1.0&INFO=x"
	if err := VerifyRequest("GET", "/apps/1/channels", q, nil, "k", "s", now); err != nil {
		t.Fatal(err)
	}
}

func TestQueryValue(t *testing.T) {
	f := func(q, key, want string, wantOK bool) {
		t.Helper()
		got, ok := QueryValue(q, key)
		if got != want || ok != wantOK {
			t.Fatalf("QueryValue(%q, %q) = %q, %v; want %q, %v", q, key, got, ok, want, wantOK)
		}
	}
	f("", "a", "", false)
	f("a=1&b=2", "b", "2", true)
	f("a=1&a=2", "a", "1", true)
	f("a", "a", "", true)
	f("a=", "a", "", true)
	f("a=x%20y+z", "a", "x y z", true)
	f("a=%zz", "a", "%zz", true)
	f("%61=1", "a", "1", true)
	f("a=b;c", "a", "b;c", true)
	f("&&a=1&&", "a", "1", true)
	f("ab=1", "a", "", false)
}

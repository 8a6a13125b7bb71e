package protocol

import (
	"cmp"
	"crypto/md5"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// MaxTimestampSkew is how far auth_timestamp may be from the server clock.
const MaxTimestampSkew = 600 * time.Second

// RequestAuthError is why a signed HTTP API request was refused; Error() is
// the message for the 401 body.
type RequestAuthError struct{ Reason string }

func (e *RequestAuthError) Error() string { return e.Reason }

// QueryValue returns the URL-decoded value of key in a raw query string
// (first occurrence), and whether it was present. Pairs are split on '&'
// only: unlike net/url, a pair containing ';' is kept. A value with a
// broken escape is returned as written.
func QueryValue(rawQuery, key string) (string, bool) {
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		k, v, _ := strings.Cut(pair, "=")
		if k != key && unescapeOr(k) != key {
			continue
		}
		return unescapeOr(v), true
	}
	return "", false
}

// unescapeOr query-unescapes s, or returns s when it has a broken escape.
func unescapeOr(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// queryPair is one decoded query parameter; key is lowercased, as the
// signature rule asks.
type queryPair struct{ key, value string }

// parseQuery decodes every k=v pair of a raw query (split on '&' only).
func parseQuery(rawQuery string) ([]queryPair, error) {
	pairs := make([]queryPair, 0, 8)
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		k, err1 := url.QueryUnescape(k)
		v, err2 := url.QueryUnescape(v)
		if err1 != nil || err2 != nil {
			return nil, &RequestAuthError{"invalid query string"}
		}
		pairs = append(pairs, queryPair{strings.ToLower(k), v})
	}
	return pairs, nil
}

// lookup returns the first value of key.
func lookup(pairs []queryPair, key string) (string, bool) {
	for _, p := range pairs {
		if p.key == key {
			return p.value, true
		}
	}
	return "", false
}

// VerifyRequest checks a Pusher HTTP API request signature (auth_version
// 1.0, pusher-protocol.md §2.3): auth_key == key, auth_version == "1.0",
// |now − auth_timestamp| ≤ MaxTimestampSkew, body_md5 required and equal to
// MD5(body) when body is not empty, then the HMAC of
// "METHOD\npath\nsorted query" (all params but auth_signature, URL-decoded,
// keys lowercased, sorted by key, joined k=v with & unescaped) compared in
// constant time. path is tried as given and percent-decoded. The error is a
// *RequestAuthError naming the failed check.
func VerifyRequest(method, path, rawQuery string, body []byte, key, secret string, now time.Time) error {
	pairs, err := parseQuery(rawQuery)
	if err != nil {
		return err
	}
	var auth [4]string // auth_key, auth_timestamp, auth_version, auth_signature
	for i, name := range [...]string{"auth_key", "auth_timestamp", "auth_version", "auth_signature"} {
		v, ok := lookup(pairs, name)
		if !ok {
			return &RequestAuthError{"missing " + name}
		}
		auth[i] = v
	}
	if err := checkAuthParams(auth[0], auth[1], auth[2], key, now); err != nil {
		return err
	}
	if err := checkBodyMD5(pairs, body); err != nil {
		return err
	}
	return checkSignature(method, path, pairs, auth[3], secret)
}

// checkAuthParams checks auth_key, auth_version and auth_timestamp.
func checkAuthParams(authKey, ts, version, key string, now time.Time) error {
	if authKey != key {
		return &RequestAuthError{"invalid auth_key"}
	}
	if version != "1.0" {
		return &RequestAuthError{"unsupported auth_version " + strconv.Quote(version) + ", want 1.0"}
	}
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil {
		return &RequestAuthError{"invalid auth_timestamp"}
	}
	// Compared as bounds, not |now-sec|, which overflows for hostile input.
	skew, t := int64(MaxTimestampSkew/time.Second), now.Unix()
	if sec < t-skew || sec > t+skew {
		return &RequestAuthError{"auth_timestamp expired: not within 600s of server time " + strconv.FormatInt(now.Unix(), 10)}
	}
	return nil
}

// checkBodyMD5 requires body_md5 = hex MD5 of a non-empty body.
func checkBodyMD5(pairs []queryPair, body []byte) error {
	if len(body) == 0 {
		return nil
	}
	given, ok := lookup(pairs, "body_md5")
	if !ok {
		return &RequestAuthError{"missing body_md5"}
	}
	sum := md5.Sum(body)
	if !strings.EqualFold(given, hex.EncodeToString(sum[:])) {
		return &RequestAuthError{"body_md5 does not match the body"}
	}
	return nil
}

// checkSignature recomputes the HMAC over the path as given and, when it
// differs, percent-decoded, since clients disagree on which one they sign.
func checkSignature(method, path string, pairs []queryPair, signature, secret string) error {
	var got [sha256.Size]byte
	if len(signature) != 2*sha256.Size {
		return &RequestAuthError{"invalid auth_signature"}
	}
	if _, err := hex.Decode(got[:], []byte(signature)); err != nil {
		return &RequestAuthError{"invalid auth_signature"}
	}
	query := canonicalQuery(pairs)
	if hmacEqual(got, macSum(secret, method, "\n", path, "\n", query)) {
		return nil
	}
	if dec, err := url.PathUnescape(path); err == nil && dec != path &&
		hmacEqual(got, macSum(secret, method, "\n", dec, "\n", query)) {
		return nil
	}
	return &RequestAuthError{"invalid signature"}
}

// canonicalQuery is the signed query: pairs but auth_signature, sorted by
// key (stable, so repeated keys keep their order), k=v joined with '&',
// nothing escaped.
func canonicalQuery(pairs []queryPair) string {
	sorted := make([]queryPair, 0, len(pairs))
	n := 0
	for _, p := range pairs {
		if p.key != "auth_signature" {
			sorted = append(sorted, p)
			n += len(p.key) + len(p.value) + 2
		}
	}
	slices.SortStableFunc(sorted, func(a, b queryPair) int { return cmp.Compare(a.key, b.key) })
	var sb strings.Builder
	sb.Grow(n)
	for i, p := range sorted {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(p.key)
		sb.WriteByte('=')
		sb.WriteString(p.value)
	}
	return sb.String()
}

func hmacEqual(a, b [sha256.Size]byte) bool {
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// SignRequest returns a raw query string carrying params plus auth_key,
// auth_timestamp, auth_version, body_md5 (when body is not empty) and
// auth_signature, as the official SDKs build it. For tests and the bench.
// Keys are sorted like the Go SDK does (auth_signature among them); values
// are query-escaped in the URL, which verifies the same because the server
// signs decoded values. params may not override the auth_* and body_md5
// names.
func SignRequest(method, path string, params map[string]string, body []byte, key, secret string, now time.Time) string {
	pairs := make([]queryPair, 0, len(params)+5)
	for k, v := range params {
		if !reservedParam(strings.ToLower(k)) {
			pairs = append(pairs, queryPair{k, v})
		}
	}
	pairs = append(pairs,
		queryPair{"auth_key", key},
		queryPair{"auth_timestamp", strconv.FormatInt(now.Unix(), 10)},
		queryPair{"auth_version", "1.0"})
	if len(body) > 0 {
		sum := md5.Sum(body)
		pairs = append(pairs, queryPair{"body_md5", hex.EncodeToString(sum[:])})
	}
	// Sort first so keys equal but for case sign in URL order, which is
	// the order the server reads them in.
	slices.SortFunc(pairs, comparePairs)
	lower := make([]queryPair, len(pairs))
	for i, p := range pairs {
		lower[i] = queryPair{strings.ToLower(p.key), p.value}
	}
	sum := macSum(secret, method, "\n", path, "\n", canonicalQuery(lower))
	pairs = append(pairs, queryPair{"auth_signature", hex.EncodeToString(sum[:])})
	slices.SortFunc(pairs, comparePairs)
	var sb strings.Builder
	for i, p := range pairs {
		if i > 0 {
			sb.WriteByte('&')
		}
		sb.WriteString(url.QueryEscape(p.key))
		sb.WriteByte('=')
		sb.WriteString(url.QueryEscape(p.value))
	}
	return sb.String()
}

// comparePairs orders by lowercased key, then by key.
func comparePairs(a, b queryPair) int {
	return cmp.Or(cmp.Compare(strings.ToLower(a.key), strings.ToLower(b.key)), cmp.Compare(a.key, b.key))
}

func reservedParam(k string) bool {
	switch k {
	case "auth_key", "auth_timestamp", "auth_version", "auth_signature", "body_md5":
		return true
	}
	return false
}

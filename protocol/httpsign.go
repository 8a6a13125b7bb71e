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

// maxStackPairs is how many query parameters VerifyRequest parses and
// sorts in stack arrays; a signed publish has five. Longer queries (up to
// the API's parameter limit) go to the heap.
const maxStackPairs = 16

// parseQuery appends every decoded k=v pair of a raw query (split on '&'
// only) to dst. Values without escapes and keys without upper case are
// substrings of rawQuery; the others are decoded into one buffer,
// allocated when the first is met (decoding never grows the text, so
// len(rawQuery) bytes hold them all).
func parseQuery(dst []queryPair, rawQuery string) ([]queryPair, error) {
	var scratch []byte
	for rawQuery != "" {
		var pair string
		pair, rawQuery, _ = strings.Cut(rawQuery, "&")
		if pair == "" {
			continue
		}
		k, v, _ := strings.Cut(pair, "=")
		var ok1, ok2 bool
		k, scratch, ok1 = queryUnescape(scratch, k, true, len(rawQuery)+len(pair))
		v, scratch, ok2 = queryUnescape(scratch, v, false, len(rawQuery)+len(pair))
		if !ok1 || !ok2 {
			return nil, &RequestAuthError{"invalid query string"}
		}
		dst = append(dst, queryPair{k, v})
	}
	return dst, nil
}

// queryUnescape decodes s as url.QueryUnescape does ('+' is a space, %XX
// a byte), lowercased as strings.ToLower does when lower is set. A result
// equal to s is s itself; another is appended to scratch and aliases it
// (growing scratch leaves the earlier results where they are). ok is
// false for a broken escape. An empty scratch is allocated with capacity
// size.
func queryUnescape(scratch []byte, s string, lower bool, size int) (string, []byte, bool) {
	escaped, upper, ascii := scanQueryPart(s)
	if !escaped && (!lower || !upper) {
		if lower && !ascii {
			return strings.ToLower(s), scratch, true
		}
		return s, scratch, true
	}
	if cap(scratch) == 0 {
		scratch = make([]byte, 0, size)
	}
	start := len(scratch)
	for i := 0; i < len(s); i++ {
		switch c := s[i]; c {
		case '+':
			scratch = append(scratch, ' ')
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return "", scratch, false
			}
			scratch = append(scratch, unhex(s[i+1])<<4|unhex(s[i+2]))
			i += 2
		default:
			scratch = append(scratch, c)
		}
	}
	out := scratch[start:]
	if !lower {
		return aliasString(out), scratch, true
	}
	if !isASCII(aliasString(out)) {
		return strings.ToLower(string(out)), scratch, true
	}
	for i, c := range out {
		if 'A' <= c && c <= 'Z' {
			out[i] = c + 'a' - 'A'
		}
	}
	return aliasString(out), scratch, true
}

// scanQueryPart reports, in one pass over s, whether it has escapes ('%'
// or '+'), ASCII upper case, and only ASCII.
func scanQueryPart(s string) (escaped, upper, ascii bool) {
	ascii = true
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '%' || c == '+':
			escaped = true
		case 'A' <= c && c <= 'Z':
			upper = true
		case c >= 0x80:
			ascii = false
		}
	}
	return escaped, upper, ascii
}

func isASCII(s string) bool {
	_, _, ascii := scanQueryPart(s)
	return ascii
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case c <= '9':
		return c - '0'
	case c >= 'a':
		return c - 'a' + 10
	}
	return c - 'A' + 10
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
//
// Nothing is allocated for a request that passes with at most
// maxStackPairs parameters and a signed string of at most macStack bytes:
// a signed publish is checked on every API call.
func VerifyRequest(method, path, rawQuery string, body []byte, key, secret string, now time.Time) error {
	var stack [maxStackPairs]queryPair
	pairs, err := parseQuery(stack[:0], rawQuery)
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

// VerifyRequestBytes is VerifyRequest over a request's own buffers, which
// it reads in place and does not retain: the caller may reuse them as
// soon as it returns (fasthttp's request buffers, without copying them to
// strings first).
func VerifyRequestBytes(method, path, rawQuery, body []byte, key, secret string, now time.Time) error {
	return VerifyRequest(aliasString(method), aliasString(path), aliasString(rawQuery), body, key, secret, now)
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
	var want [2 * md5.Size]byte
	hex.Encode(want[:], sum[:])
	if !strings.EqualFold(given, string(want[:])) {
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
	if _, err := hex.Decode(got[:], aliasBytes(signature)); err != nil {
		return &RequestAuthError{"invalid auth_signature"}
	}
	var qbuf [macStack]byte
	// The signed query lives in qbuf (or the heap when longer) only until
	// the HMACs below are computed.
	query := aliasString(appendCanonicalQuery(qbuf[:0], pairs))
	if hmacEqual(got, macSum(secret, method, "\n", path, "\n", query)) {
		return nil
	}
	if dec, err := url.PathUnescape(path); err == nil && dec != path &&
		hmacEqual(got, macSum(secret, method, "\n", dec, "\n", query)) {
		return nil
	}
	return &RequestAuthError{"invalid signature"}
}

// appendCanonicalQuery appends the signed query to dst: pairs but
// auth_signature, sorted by key (stable, so repeated keys keep their
// order), k=v joined with '&', nothing escaped.
func appendCanonicalQuery(dst []byte, pairs []queryPair) []byte {
	var stack [maxStackPairs]queryPair
	sorted := stack[:0]
	if len(pairs) > len(stack) {
		sorted = make([]queryPair, 0, len(pairs))
	}
	for _, p := range pairs {
		if p.key != "auth_signature" {
			sorted = append(sorted, p)
		}
	}
	slices.SortStableFunc(sorted, func(a, b queryPair) int { return cmp.Compare(a.key, b.key) })
	for i, p := range sorted {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, p.key...)
		dst = append(dst, '=')
		dst = append(dst, p.value...)
	}
	return dst
}

// canonicalQuery is appendCanonicalQuery as a string, for signing.
func canonicalQuery(pairs []queryPair) string {
	return string(appendCanonicalQuery(nil, pairs))
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

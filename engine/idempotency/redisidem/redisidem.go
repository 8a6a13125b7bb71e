// Package redisidem is the idempotency.Store of a cluster (cache.driver =
// redis): every node claims and reads keys in one Redis, so a duplicate
// sent to another node is answered from the first response instead of
// being published again.
package redisidem

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"

	"github.com/sockudo/sockudo-go/engine/idempotency"
)

// DefaultTimeout bounds one Redis call when Options.Timeout is 0.
const DefaultTimeout = time.Second

// Store keeps entries in Redis under Prefix + the Guard's key. A pending
// entry is "p|<token>|<fingerprint>", a committed one
// "c|<fingerprint>|<status>|<body>". Safe for concurrent use.
type Store struct {
	c       redis.UniversalClient
	prefix  string
	timeout time.Duration
}

// Options configures a Store.
type Options struct {
	// Client is the connection, shared with the cache (not closed here).
	Client redis.UniversalClient
	// Prefix starts every key (cache.redis.prefix).
	Prefix string
	// Timeout bounds one call; 0 → DefaultTimeout.
	Timeout time.Duration
}

// New returns a Store over o.Client.
func New(o Options) (*Store, error) {
	if o.Client == nil {
		return nil, errors.New("redisidem: Options.Client is required")
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	return &Store{c: o.Client, prefix: o.Prefix, timeout: o.Timeout}, nil
}

// claim is SET NX PX, answering the present entry when the key is taken,
// in one round trip and without a window where the key vanished between
// the SET and the GET.
var claim = redis.NewScript(`
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return {1} end
return {0, redis.call('GET', KEYS[1])}
`)

// ifClaimed runs only while KEYS[1] is still the claim ARGV[1] (its
// "p|<token>|" prefix): commit (ARGV[2] set, kept ARGV[3] ms) or release.
var ifClaimed = redis.NewScript(`
local v = redis.call('GET', KEYS[1])
if not v or string.sub(v, 1, string.len(ARGV[1])) ~= ARGV[1] then return 0 end
if ARGV[2] == '' then redis.call('DEL', KEYS[1]) else redis.call('SET', KEYS[1], ARGV[2], 'PX', ARGV[3]) end
return 1
`)

// Claim implements idempotency.Store.
func (s *Store) Claim(ctx context.Context, key, fingerprint string, ttl time.Duration) (string, idempotency.Entry, bool, error) {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	token := idempotency.NewToken()
	res, err := claim.Run(ctx, s.c, []string{s.prefix + key}, "p|"+token+"|"+fingerprint, ms(ttl)).Slice()
	if err != nil {
		return "", idempotency.Entry{}, false, fmt.Errorf("%w: redis claim: %w", idempotency.ErrUnavailable, err)
	}
	if len(res) == 1 {
		return token, idempotency.Entry{}, true, nil
	}
	v, _ := res[1].(string)
	if v == "" { // expired between SET and GET: a retry claims it
		return "", idempotency.Entry{Pending: true, Fingerprint: fingerprint}, false, nil
	}
	e, err := decode(v)
	if err != nil {
		return "", idempotency.Entry{}, false, fmt.Errorf("%w: key %s: %w", idempotency.ErrUnavailable, key, err)
	}
	return "", e, false, nil
}

// Commit implements idempotency.Store.
func (s *Store) Commit(ctx context.Context, key, token string, e idempotency.Entry, ttl time.Duration) error {
	v := "c|" + e.Fingerprint + "|" + strconv.Itoa(e.Status) + "|" + string(e.Body)
	return s.ifClaimed(ctx, key, token, v, ttl)
}

// Release implements idempotency.Store.
func (s *Store) Release(ctx context.Context, key, token string) error {
	return s.ifClaimed(ctx, key, token, "", 0)
}

func (s *Store) ifClaimed(ctx context.Context, key, token, value string, ttl time.Duration) error {
	ctx, cancel := context.WithTimeout(ctx, s.timeout)
	defer cancel()
	if err := ifClaimed.Run(ctx, s.c, []string{s.prefix + key}, "p|"+token+"|", value, ms(ttl)).Err(); err != nil {
		return fmt.Errorf("%w: redis: %w", idempotency.ErrUnavailable, err)
	}
	return nil
}

// decode reads an entry written by Claim or Commit.
func decode(v string) (idempotency.Entry, error) {
	kind, rest, _ := strings.Cut(v, "|")
	switch kind {
	case "p":
		_, fp, ok := strings.Cut(rest, "|")
		if !ok {
			break
		}
		return idempotency.Entry{Pending: true, Fingerprint: fp}, nil
	case "c":
		fp, rest, ok1 := strings.Cut(rest, "|")
		st, body, ok2 := strings.Cut(rest, "|")
		status, err := strconv.Atoi(st)
		if !ok1 || !ok2 || err != nil {
			break
		}
		return idempotency.Entry{Fingerprint: fp, Status: status, Body: []byte(body)}, nil
	}
	return idempotency.Entry{}, errors.New("malformed entry")
}

func ms(d time.Duration) int64 {
	if d < time.Millisecond {
		return 1
	}
	return d.Milliseconds()
}

var _ idempotency.Store = (*Store)(nil)

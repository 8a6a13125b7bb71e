package redisqueue

import "github.com/redis/go-redis/v9"

// Keys (P = prefix + "webhooks:"):
//
//	P..ready       sorted set: ordering key → time (ms, Redis clock) its
//	               head may next be handed out: now when ready, lease
//	               expiry while leased, retry time while backing off
//	P..lease       hash: ordering key → token of the current lease
//	P..count       jobs held, for Len
//	P..jobs:<key>  list: the key's jobs, head first, each "<id>\n<json>"
//
// Every script reads the clock with TIME so that nodes with skewed clocks
// agree. The scripts build the list names from ARGV, so they are not
// Redis Cluster safe (a single server or a replicated primary only).

// now (ms) from the Redis clock; shared by the scripts below.
const luaNow = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`

// KEYS: ready, list, count. ARGV: key, entry.
var enqueueScript = redis.NewScript(luaNow + `
redis.call('RPUSH', KEYS[2], ARGV[2])
redis.call('INCR', KEYS[3])
redis.call('ZADD', KEYS[1], 'NX', now, ARGV[1])
return 1
`)

// KEYS: ready, lease. ARGV: list prefix, lease ms, token.
// Returns {wait_ms} when nothing is due (-1: queue empty) or
// {0, key, entry} with the head of a due key, now leased to token.
var claimScript = redis.NewScript(luaNow + `
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', now, 'LIMIT', 0, 1)
if #due == 0 then
  local nxt = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
  if #nxt == 0 then return {-1} end
  return {tonumber(nxt[2]) - now}
end
local k = due[1]
local entry = redis.call('LINDEX', ARGV[1] .. k, 0)
if not entry then
  redis.call('ZREM', KEYS[1], k)
  redis.call('HDEL', KEYS[2], k)
  return {0}
end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), k)
redis.call('HSET', KEYS[2], k, ARGV[3])
return {0, k, entry}
`)

// KEYS: ready, lease, list, count. ARGV: key, id, token.
// Removes the head if it is job id. Releases the key only while the lease
// is still token's: after a lapse another node may hold it.
var ackScript = redis.NewScript(luaNow + `
local head = redis.call('LINDEX', KEYS[3], 0)
local tag = ARGV[2] .. '\n'
if head and string.sub(head, 1, #tag) == tag then
  redis.call('LPOP', KEYS[3])
  redis.call('DECR', KEYS[4])
end
if redis.call('HGET', KEYS[2], ARGV[1]) == ARGV[3] then
  redis.call('HDEL', KEYS[2], ARGV[1])
  if redis.call('LLEN', KEYS[3]) > 0 then
    redis.call('ZADD', KEYS[1], now, ARGV[1])
  else
    redis.call('ZREM', KEYS[1], ARGV[1])
  end
end
return 1
`)

// KEYS: ready, lease, list. ARGV: key, id, token, entry, delay ms.
// Stores the updated head and makes the key due after the delay, if the
// lease is still token's.
var nackScript = redis.NewScript(luaNow + `
if redis.call('HGET', KEYS[2], ARGV[1]) ~= ARGV[3] then return 0 end
local head = redis.call('LINDEX', KEYS[3], 0)
local tag = ARGV[2] .. '\n'
if head and string.sub(head, 1, #tag) == tag then
  redis.call('LSET', KEYS[3], 0, ARGV[4])
end
redis.call('HDEL', KEYS[2], ARGV[1])
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[5]), ARGV[1])
return 1
`)

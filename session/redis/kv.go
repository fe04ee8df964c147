package redis

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// KV is a small key-value store with expiry on the store's own connection,
// for state that gateways behind one load balancer must share but that is
// not a session: the portal's CSRF tokens. Its methods have the shape of
// fiber.Storage (this package does not import fiber), so a *KV can be
// handed to fiber's middleware as it is. Keys live under the store's prefix
// and the KV's own, one Redis key each (cluster-safe); they are neither
// replicated with WAIT nor announced. A key is stored as its SHA-256: the
// keys are CSRF tokens, and no token lands on disk (Redis's append-only
// file) in plaintext.
//
// ClaimForm bounds what one client and everyone together keep pending, as
// the portal's in-memory store does: without it anyone requesting the
// splash in a loop would fill the session store's Redis.
//
// While Redis fails, values are kept in this process instead (bounded,
// maxLocal), so that a form opened and posted at the same gateway still
// passes its CSRF check and the sign-in gets the store's honest 503 rather
// than a 403.
type KV struct {
	s      *Store
	prefix string

	mu    sync.Mutex
	local map[string]localValue
}

type localValue struct {
	val     []byte
	expires time.Time // zero: never
}

// maxLocal bounds the values kept in memory while Redis is away.
const maxLocal = 10_000

// kvTimeout bounds each operation: the fiber.Storage methods take no
// context, and a page must not hang on a store that fails over.
const kvTimeout = 2 * time.Second

// KV returns the key-value store named name ("csrf" → keys
// "<prefix>csrf:<key>"). Closing it does not close the Store.
func (s *Store) KV(name string) *KV {
	return &KV{s: s, prefix: s.prefix + name + ":", local: map[string]localValue{}}
}

// Get returns the value of key, or nil and no error when there is none.
func (k *KV) Get(key string) ([]byte, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	v, err := k.s.c.Get(ctx, k.redisKey(key)).Bytes()
	if err == nil {
		return v, nil
	}
	if lv, ok := k.fromLocal(key); ok {
		return lv, nil
	}
	if errors.Is(err, goredis.Nil) {
		return nil, nil
	}
	return nil, wrap("kv get", err)
}

// fromLocal returns a value kept while Redis was away.
func (k *KV) fromLocal(key string) ([]byte, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	lv, ok := k.local[key]
	if !ok {
		return nil, false
	}
	if !lv.expires.IsZero() && !time.Now().Before(lv.expires) {
		delete(k.local, key)
		return nil, false
	}
	return append([]byte(nil), lv.val...), true
}

// keepLocal keeps a value Redis did not take, making room first: expired
// values go, then any.
func (k *KV) keepLocal(key string, val []byte, exp time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := time.Now()
	if len(k.local) >= maxLocal {
		for key, lv := range k.local {
			if !lv.expires.IsZero() && !now.Before(lv.expires) {
				delete(k.local, key)
			}
		}
	}
	for key := range k.local {
		if len(k.local) < maxLocal {
			break
		}
		delete(k.local, key)
	}
	lv := localValue{val: append([]byte(nil), val...)}
	if exp > 0 {
		lv.expires = now.Add(exp)
	}
	k.local[key] = lv
}

// Set stores val under key for exp (0: without expiry). An empty key or
// value is ignored, as fiber.Storage asks.
func (k *KV) Set(key string, val []byte, exp time.Duration) error {
	if key == "" || len(val) == 0 {
		return nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	if err := k.s.c.Set(ctx, k.redisKey(key), val, exp).Err(); err != nil {
		k.keepLocal(key, val, exp)
	}
	return nil
}

// Delete removes key; a missing key is no error.
func (k *KV) Delete(key string) error {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	k.mu.Lock()
	delete(k.local, key)
	k.mu.Unlock()
	if err := k.s.c.Del(ctx, k.redisKey(key)).Err(); err != nil {
		return wrap("kv delete", err)
	}
	return nil
}

// Reset deletes every key of this KV (on every primary of a cluster).
func (k *KV) Reset() error {
	k.mu.Lock()
	clear(k.local)
	k.mu.Unlock()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var (
		mu       sync.Mutex // emit runs on several goroutines on a cluster
		firstErr error
	)
	err := k.s.scanKeys(ctx, k.prefix+"*", 1000, func(keys []string, _ *goredis.Client) bool {
		for _, key := range keys {
			// One key per DEL keeps it cluster-safe.
			if err := k.s.c.Del(ctx, key).Err(); err != nil {
				mu.Lock()
				firstErr = err
				mu.Unlock()
				return false
			}
		}
		return true
	})
	if err == nil {
		err = firstErr
	}
	if err != nil {
		return wrap("kv reset", err)
	}
	return nil
}

// redisKey is where key's value lives: under the prefixes, as its hash.
func (k *KV) redisKey(key string) string { return k.prefix + hashKey(key) }

func hashKey(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:])
}

// The ledger of pending forms: per owner and in all a sorted set of the
// hashed keys by the microsecond they were claimed, under one hash tag (one
// slot of a cluster, as a script needs). Entries claimed before the cut-off
// (their form has expired) are dropped first; beyond the bounds the oldest
// go, and the script returns them for their values to be deleted (they may
// live on other slots).
var claimScript = goredis.NewScript(`
local key, now, cutoff, expireAt = ARGV[1], tonumber(ARGV[2]), tonumber(ARGV[3]), ARGV[6]
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', cutoff)
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', cutoff)
if redis.call('ZADD', KEYS[1], 'NX', now, key) == 0 then return {} end
redis.call('PEXPIREAT', KEYS[1], expireAt)
redis.call('ZADD', KEYS[2], 'NX', now, key)
redis.call('PEXPIREAT', KEYS[2], expireAt)
local out = {}
local over = redis.call('ZCARD', KEYS[1]) - tonumber(ARGV[4])
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[1], over)
  for i = 1, #popped, 2 do
    redis.call('ZREM', KEYS[2], popped[i])
    out[#out+1] = popped[i]
  end
end
over = redis.call('ZCARD', KEYS[2]) - tonumber(ARGV[5])
if over > 0 then
  local popped = redis.call('ZPOPMIN', KEYS[2], over)
  for i = 1, #popped, 2 do out[#out+1] = popped[i] end
end
return out`)

// ClaimForm records owner (an opaque client identifier; the portal passes
// a keyed hash of the address) as the owner of the stored key, and drops
// the owner's oldest keys beyond perOwner and everyone's oldest beyond
// total. It returns how many it dropped. A key already claimed by owner is
// left as it is; while Redis fails nothing is claimed (the values kept in
// memory meanwhile are bounded by maxLocal). The forms of one KV are
// expected to share one lifetime (the portal's csrfExpiration).
func (k *KV) ClaimForm(key, owner string, perOwner, total int) int {
	ctx, cancel := context.WithTimeout(context.Background(), kvTimeout)
	defer cancel()
	ttl, err := k.s.c.PTTL(ctx, k.redisKey(key)).Result()
	if err != nil || ttl <= 0 {
		return 0 // not stored (or without expiry: not a form)
	}
	now := time.Now()
	ledger := k.prefix + "{forms}:"
	dropped, err := claimScript.Run(ctx, k.s.c, []string{ledger + "o:" + owner, ledger + "all"},
		hashKey(key), now.UnixMicro(), now.Add(-ttl).UnixMicro(), perOwner, total, now.Add(ttl).UnixMilli()).StringSlice()
	if err != nil {
		return 0
	}
	for _, d := range dropped {
		// One key per DEL keeps it cluster-safe.
		k.s.c.Del(ctx, k.prefix+d)
	}
	return len(dropped)
}

// Close does nothing: the connection is the Store's.
func (k *KV) Close() error { return nil }

package redis

import (
	"context"
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
// replicated with WAIT nor announced.
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
	v, err := k.s.c.Get(ctx, k.prefix+key).Bytes()
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
	if err := k.s.c.Set(ctx, k.prefix+key, val, exp).Err(); err != nil {
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
	if err := k.s.c.Del(ctx, k.prefix+key).Err(); err != nil {
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

// Close does nothing: the connection is the Store's.
func (k *KV) Close() error { return nil }

package redis

import (
	"context"
	"fmt"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Acknowledged means replicated: a write that a citizen or an admin is told
// about (a sign-in's 303, a revocation's 200) must survive the loss of its
// primary, so it returns only once Options.MinReplicasAcked replicas have
// it. Redis's WAIT counts the replicas that have received every write made
// so far on the connection that sends it, so the write and its WAIT go
// together in one pipeline on one connection to the key's primary.
//
// With Sentinel, a replica that has a write is not necessarily the one
// promoted; Sentinel promotes the replica with the most data among those of
// the best replica-priority, so every replica that may be promoted must
// have the same priority (the runbook says so), and one confirming replica
// then suffices: the promoted one has at least what any other has.

// run executes script on the primary that holds key and, when the store
// waits for replicas, WAIT right after it. It returns the script's integer
// result; ErrNotReplicated (wrapped) when the write was applied but not
// confirmed in time.
func (s *Store) run(ctx context.Context, script *goredis.Script, key string, args ...any) (int, error) {
	if s.minAcked == 0 {
		return script.Run(ctx, s.c, []string{key}, args...).Int()
	}
	node, err := s.primaryFor(ctx, key)
	if err != nil {
		s.reloadSlots(ctx)
		return 0, err
	}
	var res *goredis.Cmd
	var acked *goredis.Cmd
	_, err = node.Pipelined(ctx, func(p goredis.Pipeliner) error {
		// EVAL, not EVALSHA: inside a pipeline a NOSCRIPT could not fall
		// back to sending the script. The scripts are short and the server
		// caches them by their hash all the same.
		res = script.Eval(ctx, p, []string{key}, args...)
		// (Pipeliner has no Wait method; the command is the same.)
		acked = p.Do(ctx, "wait", s.minAcked, s.ackTimeout.Milliseconds())
		return nil
	})
	if err != nil {
		s.reloadSlots(ctx) // the primary may have moved (MOVED) or died
	}
	n, rerr := res.Int()
	if rerr != nil {
		return 0, rerr
	}
	got, err := acked.Int()
	if err != nil {
		return n, fmt.Errorf("%w: %w", ErrNotReplicated, err)
	}
	if got < s.minAcked {
		return n, fmt.Errorf("%w (%d of %d within %v)", ErrNotReplicated, got, s.minAcked, s.ackTimeout)
	}
	return n, nil
}

// primaryFor is the client of the primary that holds key: the store's own
// client, unless it is a cluster's.
func (s *Store) primaryFor(ctx context.Context, key string) (*goredis.Client, error) {
	switch c := s.c.(type) {
	case *goredis.ClusterClient:
		return c.MasterForKey(ctx, key)
	case *goredis.Client:
		return c, nil
	}
	return nil, fmt.Errorf("unknown client %T", s.c)
}

// reloadSlots asks a cluster client to re-read the slot map soon (a
// pipeline sent straight to one node does not follow MOVED by itself).
func (s *Store) reloadSlots(ctx context.Context) {
	if c, ok := s.c.(*goredis.ClusterClient); ok {
		c.ReloadState(ctx)
	}
}

// undoCreate removes a record whose create was not confirmed by enough
// replicas, best effort: the sign-in was answered 503, and the citizen's
// retry makes a new one. The DEL follows the create in the replication
// stream, so no replica keeps one without the other. If it fails too, the
// record expires with the session it would have been.
func (s *Store) undoCreate(key string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	s.c.Del(ctx, key)
}

// announce publishes a change after its write was confirmed. It goes
// through the primary that just took the write (alive a moment ago; on a
// cluster a PUBLISH on any node reaches every node's subscribers), then
// through the client's routing. The record is replicated whatever happens
// here, so the write stands: if every try fails, the primary is failing
// and the gateways' feeds, which it carried, resync when they subscribe
// anew. A gateway whose feed runs on another cluster node would miss the
// change, hence the retries.
func (s *Store) announce(ctx context.Context, key, msg string) {
	if node, err := s.primaryFor(ctx, key); err == nil && node.Publish(ctx, s.channel(), msg).Err() == nil {
		return
	}
	for range 3 {
		s.reloadSlots(ctx)
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
		if s.c.Publish(ctx, s.channel(), msg).Err() == nil {
			return
		}
	}
}

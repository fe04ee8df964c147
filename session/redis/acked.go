package redis

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/session"
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

// undoCreate takes back a create whose outcome is not an acknowledged
// sign-in: not confirmed by enough replicas, or cut off by a failing
// primary. The sign-in was answered 503 and the citizen's retry makes a new
// session, so the record must not live on — yet it may: applied on the
// primary and copied to a replica before the primary died, it would
// surface after the failover, unannounced, as a second session for the
// device. So the record is revoked (and the revocation announced, in case
// a gateway's resync adopted it meanwhile), now or, while no primary takes
// writes, from the retry queue. A record that is not there needs nothing.
func (s *Store) undoCreate(id string) {
	if !s.tryUndo(context.Background(), id) {
		s.later.add(s, func(q *retryQueue) {
			if len(q.undo) < maxRetries {
				q.undo[id] = time.Now().Add(retryPatience)
			}
		})
	}
}

// tryUndo revokes the record of id; it reports whether that is settled
// (revoked and confirmed, or not there).
func (s *Store) tryUndo(ctx context.Context, id string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second+s.ackTimeout)
	defer cancel()
	err := s.update(ctx, "undo create", id, "revoked "+id, fRevoked, "1", fToken, "")
	return err == nil || errors.Is(err, session.ErrNotFound)
}

// announce publishes a change after its write, where the script did not.
//
// On a cluster every announcement is published this way, on the primary of
// the channel's own slot: that is where every gateway's feed subscribes
// (go-redis subscribes on the channel's slot), so the message reaches the
// feeds directly. Published anywhere else — inside a script on the key's
// primary, or on the random node go-redis picks for PUBLISH — it would
// travel the cluster bus, and a node killed right after publishing takes
// the message with it while the feeds, attached to another node, never
// notice (the cluster drill lost sign-ins that way).
//
// Should the channel's node be the one that fails, the feeds on it
// subscribe anew and resync; but this gateway's slot map may name the
// failed node for a while after the others moved on, so an announcement
// that cannot be published now is queued and published, in order, once
// the slot map names a node that takes it. The write stands whatever
// happens here.
func (s *Store) announce(ctx context.Context, msg string) {
	if s.later.hasAnnouncements() || !s.tryAnnounce(ctx, msg) {
		s.later.add(s, func(q *retryQueue) {
			if len(q.announce) < maxRetries {
				q.announce = append(q.announce, queued{msg, time.Now().Add(retryPatience)})
			}
		})
	}
}

func (s *Store) tryAnnounce(ctx context.Context, msg string) bool {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	node, err := s.primaryFor(ctx, s.channel())
	if err == nil && node.Publish(ctx, s.channel(), msg).Err() == nil {
		return true
	}
	s.reloadSlots(ctx)
	return false
}

// clustered reports whether the store is on a Redis Cluster.
func (s *Store) clustered() bool {
	_, ok := s.c.(*goredis.ClusterClient)
	return ok
}

// Bounds of the retry queue: a failover takes seconds; a store that takes
// no writes for a minute has lost its unconfirmed records or will be
// restored from backup anyway, and the gateways' feeds have resynced.
const (
	retryPatience = time.Minute
	maxRetries    = 100_000
)

// retryQueue holds what could not be done at once while the store fails
// over: creates to take back and announcements to publish. One goroutine
// works it, started when it first gets work.
type retryQueue struct {
	mu       sync.Mutex
	undo     map[string]time.Time // session ID → give up after
	announce []queued             // in order
	running  bool
	closed   bool
	stop     chan struct{}
	wg       sync.WaitGroup
}

type queued struct {
	msg    string
	giveUp time.Time
}

func newRetryQueue() retryQueue {
	return retryQueue{undo: map[string]time.Time{}, stop: make(chan struct{})}
}

func (q *retryQueue) add(s *Store, f func(*retryQueue)) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.closed {
		return
	}
	f(q)
	if !q.running {
		q.running = true
		q.wg.Go(s.retryLoop)
	}
}

func (q *retryQueue) hasAnnouncements() bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.announce) > 0
}

func (s *Store) retryLoop() {
	q := &s.later
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go func() { // Close cancels what is under way
		select {
		case <-q.stop:
			cancel()
		case <-ctx.Done():
		}
	}()
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		// Announcements first, oldest first; stop at the first that fails
		// so that they keep their order.
		for {
			q.mu.Lock()
			for len(q.announce) > 0 && now.After(q.announce[0].giveUp) {
				q.announce = q.announce[1:]
			}
			if len(q.announce) == 0 {
				q.mu.Unlock()
				break
			}
			next := q.announce[0].msg
			q.mu.Unlock()
			if !s.tryAnnounce(ctx, next) {
				break
			}
			q.mu.Lock()
			q.announce = q.announce[1:]
			q.mu.Unlock()
		}
		q.mu.Lock()
		var ids []string
		for id, giveUp := range q.undo {
			if now.After(giveUp) {
				delete(q.undo, id)
				continue
			}
			ids = append(ids, id)
		}
		q.mu.Unlock()
		for _, id := range ids {
			if ctx.Err() != nil {
				return
			}
			if s.tryUndo(ctx, id) {
				q.mu.Lock()
				delete(q.undo, id)
				q.mu.Unlock()
			}
		}
	}
}

// closeRetries stops the retry queue; what it still holds is given up.
func (s *Store) closeRetries() {
	q := &s.later
	q.mu.Lock()
	if !q.closed {
		q.closed = true
		close(q.stop)
	}
	q.mu.Unlock()
	q.wg.Wait()
}

package redis

import (
	"context"
	"errors"
	"net"
	"strings"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/session"
)

// feedCheck is how long the change feed may stay silent before it is
// pinged; a ping unanswered for as long again means the connection is dead
// without having been closed (a site that lost power sends no RST), and the
// feed subscribes anew — through the Sentinels or the cluster's slot map,
// so to the primary that serves now. Not shorter: a busy server that
// stalls for a second (an fsync, a big DEL) must not cost every gateway a
// resync of the whole store.
const feedCheck = 3 * time.Second

// Watch calls fn for every create, re-bind and revocation any gateway makes
// (this one included) until ctx ends. Redis pub/sub delivers at most once
// and only to subscribers: subscribed is called each time the subscription
// is (re)established — after a server restart, a failover, a dead
// connection — so the caller can re-read what it may have missed.
func (s *Store) Watch(ctx context.Context, fn func(session.Change), subscribed func()) error {
	for ctx.Err() == nil {
		s.follow(ctx, fn, subscribed)
	}
	return nil
}

// follow runs one subscription until ctx ends or the connection is found
// dead.
func (s *Store) follow(ctx context.Context, fn func(session.Change), subscribed func()) {
	sub := s.c.Subscribe(ctx, s.channel())
	stop := context.AfterFunc(ctx, func() { sub.Close() }) // unblocks Receive
	defer stop()
	defer sub.Close()
	backoff := 50 * time.Millisecond
	pinged := false
	for {
		msg, err := sub.ReceiveTimeout(ctx, feedCheck)
		if ctx.Err() != nil {
			return
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			if pinged {
				// No answer to the ping: subscribe anew, on a cluster
				// after re-reading the slot map (see below).
				s.reloadSlots(ctx)
				return
			}
			// A failed ping makes the next Receive reconnect.
			sub.Ping(ctx)
			pinged = true
			continue
		}
		if err != nil {
			// The client reconnects and re-subscribes on the next Receive,
			// on a cluster to the node its slot map names for the
			// channel: after a failover that map is stale (go-redis
			// re-reads it only when a command meets MOVED or the map is
			// old), and the feed would knock on the dead primary.
			s.reloadSlots(ctx)
			select {
			case <-ctx.Done():
				return
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
			continue
		}
		backoff, pinged = 50*time.Millisecond, false
		switch m := msg.(type) {
		case *goredis.Subscription:
			if m.Kind == "subscribe" && subscribed != nil {
				subscribed()
			}
		case *goredis.Message:
			if m.Payload == crisisChange { // see crisis.go
				fn(session.Change{Kind: session.ChangeCrisis})
				continue
			}
			kind, id, found := strings.Cut(m.Payload, " ")
			if !found || !session.ValidID(id) {
				continue
			}
			switch kind {
			case "created":
				fn(session.Change{Kind: session.ChangeCreated, ID: id})
			case "rebound":
				fn(session.Change{Kind: session.ChangeRebound, ID: id})
			case "revoked":
				fn(session.Change{Kind: session.ChangeRevoked, ID: id})
			}
		}
	}
}

package redis_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/internal/redistest"
	"roamgate/session"
	"roamgate/session/redis"
	"roamgate/session/storetest"
)

func open(t testing.TB, srv *redistest.Server, keep time.Duration) *redis.Store {
	t.Helper()
	st, warn, err := redis.Open(context.Background(), redis.Options{Addr: srv.Addr(), Keep: keep})
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) > 0 {
		t.Errorf("durability warnings on a server with appendfsync always: %v", warn)
	}
	return st
}

// farFuture keeps the conformance suite's fixed 2025 dates from expiring
// the keys: TTLs are real time, the suite's clock is not.
const farFuture = 100 * 365 * 24 * time.Hour

// TestStore runs the shared conformance suite against a real redis-server;
// reopen kills the server (SIGKILL) and starts it again on the same data.
func TestStore(t *testing.T) {
	storetest.Run(t, func(t *testing.T) (session.Store, func(t *testing.T) session.Store) {
		srv := redistest.Start(t)
		return open(t, srv, farFuture), func(t *testing.T) session.Store {
			srv.Kill()
			srv.Restart()
			return open(t, srv, farFuture)
		}
	})
}

func TestKeysExpireWithTheSession(t *testing.T) {
	srv := redistest.Start(t)
	st := open(t, srv, 0)
	defer st.Close()
	now := time.Now().UTC().Truncate(time.Second)
	r := session.Record{Session: session.Session{ID: "0123456789abcdef0123456789abcdef", Created: now, Expires: now.Add(90 * time.Second), LastSeen: now}}
	if err := st.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer c.Close()
	ttl, err := c.PTTL(context.Background(), "roamgate:{"+r.ID+"}").Result()
	if err != nil {
		t.Fatal(err)
	}
	if ttl <= 80*time.Second || ttl > 90*time.Second {
		t.Fatalf("TTL %v, want the session's 90s left", ttl)
	}
}

func TestDurabilityWarnings(t *testing.T) {
	srv := redistest.Start(t)
	c := goredis.NewClient(&goredis.Options{Addr: srv.Addr()})
	defer c.Close()
	if err := c.ConfigSet(context.Background(), "appendfsync", "everysec").Err(); err != nil {
		t.Fatal(err)
	}
	_, warn, err := redis.Open(context.Background(), redis.Options{Addr: srv.Addr()})
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) != 1 || !strings.Contains(warn[0], "appendfsync") {
		t.Fatalf("warnings = %v", warn)
	}
}

func TestOpenFailsClearly(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close() // nothing listens there now
	_, _, err = redis.Open(context.Background(), redis.Options{Addr: addr})
	if err == nil || !strings.HasPrefix(err.Error(), "redis: open: ") {
		t.Fatalf("err = %v", err)
	}
}

// gateway is one roamgate's session core on the shared store.
type gateway struct {
	m *session.Manager
}

func newGateway(t *testing.T, srv *redistest.Server, dir string) gateway {
	t.Helper()
	st := open(t, srv, 0)
	t.Cleanup(func() { st.Close() })
	return newGatewayOn(t, st, dir)
}

func newGatewayOn(t *testing.T, st session.Store, dir string) gateway {
	t.Helper()
	key, err := session.LoadOrCreateSiteKey(dir)
	if err != nil {
		t.Fatal(err)
	}
	ring, err := session.OpenKeyRing(dir, 24*time.Hour, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	m, _, err := session.NewManager(context.Background(), session.Options{
		Store: st, Tokens: session.NewTokens(ring, "test", "http://portal", nil), SiteKey: key,
		Policy: session.Policy{Lifetime: time.Hour},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return gateway{m: m}
}

// eventually waits for cond with a deadline.
func eventually(t *testing.T, within time.Duration, what string, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("%s: not within %v", what, within)
		}
		time.Sleep(time.Millisecond) // poll interval, bounded by the deadline
	}
	return time.Since(start)
}

// TestTwoGateways: a sign-in at gateway A is accepted by B, a revocation at
// B reaches A at once, a re-bind at A moves the device at B. The gateways
// share the site key and token keys (one roaming domain), as deployments do.
func TestTwoGateways(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	a, b := newGateway(t, srv, dir), newGateway(t, srv, dir)
	ctx := context.Background()
	mac, _ := session.ParseMAC("da:a1:19:00:07:01")

	s, _, err := a.m.Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
	if err != nil {
		t.Fatal(err)
	}
	d := eventually(t, 2*time.Second, "B accepts A's sign-in", func() bool {
		got, err := b.m.ByMAC(mac)
		return err == nil && got.ID == s.ID
	})
	t.Logf("B knew A's sign-in after %v", d)

	if err := b.m.Revoke(ctx, s.ID); err != nil {
		t.Fatal(err)
	}
	d = eventually(t, 100*time.Millisecond, "A rejects after B revoked", func() bool {
		_, err := a.m.ByMAC(mac)
		return errors.Is(err, session.ErrRevoked)
	})
	t.Logf("A saw B's revocation after %v", d)

	mac2, _ := session.ParseMAC("da:a1:19:00:07:02")
	s2, tok2, err := a.m.Create(ctx, session.CreateRequest{MAC: mac2, HasMAC: true, Network: "wifi4eu", Location: "bahnhof"})
	if err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "B knows the second sign-in", func() bool { _, err := b.m.ByMAC(mac2); return err == nil })
	rotated, _ := session.ParseMAC("da:a1:19:00:07:03")
	if _, _, err := a.m.Rebind(ctx, tok2, rotated); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "B follows the re-bind", func() bool {
		got, err := b.m.ByMAC(rotated)
		_, oldErr := b.m.ByMAC(mac2)
		return err == nil && got.ID == s2.ID && errors.Is(oldErr, session.ErrNotFound)
	})
}

// TestResyncAfterOutage: changes made while a gateway's subscription is
// down reach it when the server is back.
func TestResyncAfterOutage(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	a := newGateway(t, srv, dir)
	ctx := context.Background()
	srv.Kill()
	srv.Restart() // a's subscription breaks and comes back
	b := newGateway(t, srv, dir)
	mac, _ := session.ParseMAC("da:a1:19:00:08:01")
	var s session.Session
	eventually(t, 10*time.Second, "sign-in at B once the server is back", func() bool {
		var err error
		s, _, err = b.m.Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true})
		return err == nil
	})
	eventually(t, 10*time.Second, "A knows the sign-in", func() bool {
		got, err := a.m.ByMAC(mac)
		return err == nil && got.ID == s.ID
	})
}

// lossyFeed is the real store whose change feed the test can make deaf (as
// if the gateway were cut off from Redis while others went on) and then
// re-establish, which makes the Manager resync.
type lossyFeed struct {
	*redis.Store
	deaf    atomic.Bool
	restart chan struct{}
}

func (l *lossyFeed) Watch(ctx context.Context, fn func(session.Change), subscribed func()) error {
	for ctx.Err() == nil {
		ictx, cancel := context.WithCancel(ctx)
		go func() {
			select {
			case <-l.restart:
				cancel()
			case <-ictx.Done():
			}
		}()
		l.Store.Watch(ictx, func(c session.Change) {
			if !l.deaf.Load() {
				fn(c)
			}
		}, subscribed)
		cancel()
	}
	return nil
}

// TestResyncTakesOverMissedChanges: a gateway whose feed was interrupted
// takes over, when it comes back, not only the sign-ins it missed but also
// the revocations and the records that are gone from the store (lost with
// a failed primary, or deleted after their revocation). Before the resync
// looked at what the store no longer lists, the revoked and the vanished
// sessions stayed accepted at B.
func TestResyncTakesOverMissedChanges(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	a := newGateway(t, srv, dir)
	lossy := &lossyFeed{Store: open(t, srv, 0), restart: make(chan struct{})}
	t.Cleanup(func() { lossy.Close() })
	b := newGatewayOn(t, lossy, dir)
	ctx := context.Background()

	var macs []session.MAC
	var ids []string
	for i := range 3 {
		mac, _ := session.ParseMAC(fmt.Sprintf("da:a1:19:00:09:%02x", i+1))
		s, _, err := a.m.Create(ctx, session.CreateRequest{MAC: mac, HasMAC: true})
		if err != nil {
			t.Fatal(err)
		}
		macs, ids = append(macs, mac), append(ids, s.ID)
	}
	eventually(t, 2*time.Second, "B knows the three sign-ins", func() bool {
		for _, mac := range macs {
			if _, err := b.m.ByMAC(mac); err != nil {
				return false
			}
		}
		return true
	})

	lossy.deaf.Store(true)
	if err := a.m.Revoke(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	if err := srv.Client().Del(ctx, "roamgate:{"+ids[1]+"}").Err(); err != nil {
		t.Fatal(err)
	}
	newMAC, _ := session.ParseMAC("da:a1:19:00:09:10")
	if _, _, err := a.m.Create(ctx, session.CreateRequest{MAC: newMAC, HasMAC: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.m.ByMAC(macs[0]); err != nil {
		t.Fatalf("B heard the revocation although deaf (%v): the test proves nothing", err)
	}

	lossy.deaf.Store(false)
	lossy.restart <- struct{}{}
	eventually(t, 5*time.Second, "B takes over what it missed", func() bool {
		_, revoked := b.m.ByMAC(macs[0])
		_, vanished := b.m.ByMAC(macs[1])
		_, kept := b.m.ByMAC(macs[2])
		_, added := b.m.ByMAC(newMAC)
		return errors.Is(revoked, session.ErrRevoked) && errors.Is(vanished, session.ErrNotFound) && kept == nil && added == nil
	})
}

// unreadable is the real store whose Get fails while failing is set, as a
// cluster client's Get does while its slot map still names a failed node.
type unreadable struct {
	*redis.Store
	failing atomic.Bool
	refused atomic.Int64
}

func (u *unreadable) Get(ctx context.Context, id string) (session.Record, error) {
	if u.failing.Load() {
		u.refused.Add(1)
		return session.Record{}, errors.New("dial tcp 127.0.0.1:1: connect: connection refused")
	}
	return u.Store.Get(ctx, id)
}

// TestAnnouncedWhileUnreadable: a sign-in announced while this gateway
// cannot read it from the store is read again once it can. Before the
// manager retried, the announcement was dropped with a warning and the
// session stayed unknown at B — the feed was never interrupted, so no
// resync found it either (the cluster drill lost sign-ins at B this way).
func TestAnnouncedWhileUnreadable(t *testing.T) {
	srv := redistest.Start(t)
	dir := t.TempDir()
	a := newGateway(t, srv, dir)
	u := &unreadable{Store: open(t, srv, 0)}
	t.Cleanup(func() { u.Close() })
	b := newGatewayOn(t, u, dir)
	mac, _ := session.ParseMAC("da:a1:19:00:0b:01")

	u.failing.Store(true)
	if _, _, err := a.m.Create(context.Background(), session.CreateRequest{MAC: mac, HasMAC: true}); err != nil {
		t.Fatal(err)
	}
	// The announcement arrives, and a retry fails too.
	eventually(t, 5*time.Second, "B tried to read the session twice", func() bool { return u.refused.Load() >= 2 })
	if _, err := b.m.ByMAC(mac); err == nil {
		t.Fatal("B read the session although its store failed: the test proves nothing")
	}
	u.failing.Store(false)
	eventually(t, 2*time.Second, "B reads the announced session once it can", func() bool {
		_, err := b.m.ByMAC(mac)
		return err == nil
	})
}

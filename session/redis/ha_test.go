package redis_test

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/internal/redistest"
	"roamgate/session"
	"roamgate/session/redis"
	"roamgate/session/storetest"
)

// openOpts opens a store and fails the test on an error or a warning.
func openOpts(t testing.TB, o redis.Options) *redis.Store {
	t.Helper()
	st, warn, err := redis.Open(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(warn) > 0 {
		t.Errorf("warnings: %v", warn)
	}
	return st
}

func sentinelOptions(rs *redistest.Replicated) redis.Options {
	return redis.Options{
		Sentinel:         redis.Sentinel{MasterName: redistest.MasterName, Addrs: rs.SentinelAddrs()},
		MinReplicasAcked: redis.AutoReplicas,
	}
}

// TestStoreSentinel runs the conformance suite on a primary with two
// replicas behind three Sentinels, every acknowledged write confirmed by a
// replica (the default for Sentinel). Each test gets its own key prefix;
// reopen kills the primary (SIGKILL) and opens the store again through the
// Sentinels once they have promoted a replica: what the suite wrote must
// all be there. The killed server then rejoins as a replica, so that every
// test that reopens finds two replicas.
func TestStoreSentinel(t *testing.T) {
	rs := redistest.StartSentinel(t, 2)
	n := 0
	storetest.Run(t, func(t *testing.T) (session.Store, func(t *testing.T) session.Store) {
		n++
		o := sentinelOptions(rs)
		o.Keep, o.Prefix = farFuture, fmt.Sprintf("suite%d:", n)
		// Open warns while a replica is still resyncing after an earlier
		// test's failover; each test starts on the whole topology.
		rs.WaitReplicated(t, 30*time.Second)
		st := openOpts(t, o)
		if got := st.MinReplicasAcked(); got != 1 {
			t.Fatalf("MinReplicasAcked = %d with Sentinel, want 1 (the default)", got)
		}
		return st, func(t *testing.T) session.Store {
			// Activity (Touch) is not waited for; let it reach the
			// replicas before the primary goes.
			rs.WaitReplicated(t, 10*time.Second)
			old, err := rs.PrimaryAddr(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			rs.Server(old).Kill()
			start := time.Now()
			p := rs.WaitPrimary(t, 30*time.Second, old)
			t.Logf("Sentinel promoted %s %v after the kill", p.Addr(), time.Since(start).Round(time.Millisecond))
			rs.Rejoin(t, rs.Server(old))
			return openOpts(t, o)
		}
	})
}

// TestStoreCluster runs the conformance suite on a Redis Cluster of three
// primaries with a replica each: every key is one hash tag, every script
// one slot, and Live and DeleteEnded scan every primary. reopen kills the
// primary of one shard, waits for its replica to take over, brings the
// killed node back (it rejoins as a replica) and opens the store again.
func TestStoreCluster(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 1)
	n := 0
	storetest.Run(t, func(t *testing.T) (session.Store, func(t *testing.T) session.Store) {
		n++
		o := redis.Options{Cluster: cl.Addrs(), Keep: farFuture, Prefix: fmt.Sprintf("suite%d:", n), MinReplicasAcked: redis.AutoReplicas}
		st := openOpts(t, o)
		if got := st.MinReplicasAcked(); got != 1 {
			t.Fatalf("MinReplicasAcked = %d on a cluster, want 1 (the default)", got)
		}
		return st, func(t *testing.T) session.Store {
			cl.WaitReplicated(t, 10*time.Second)
			victim := cl.Primaries(context.Background())[0]
			victim.Kill()
			start := time.Now()
			cl.WaitHealthy(t, 30*time.Second, 3, 0)
			t.Logf("the cluster promoted a replica %v after the kill", time.Since(start).Round(time.Millisecond))
			victim.Restart()
			cl.WaitHealthy(t, 30*time.Second, 3, 1)
			return openOpts(t, o)
		}
	})
}

// watcher follows a store's change feed and records what it hears.
type watcher struct {
	mu         sync.Mutex
	changes    []session.Change
	subscribed int
	stop       func()
}

func watch(t *testing.T, st *redis.Store) *watcher {
	t.Helper()
	w := &watcher{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		st.Watch(ctx, func(c session.Change) {
			w.mu.Lock()
			w.changes = append(w.changes, c)
			w.mu.Unlock()
		}, func() {
			w.mu.Lock()
			w.subscribed++
			w.mu.Unlock()
		})
	}()
	w.stop = func() { cancel(); <-done }
	t.Cleanup(w.stop)
	eventually(t, 10*time.Second, "first subscription", func() bool { return w.subscriptions() >= 1 })
	return w
}

func (w *watcher) subscriptions() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.subscribed
}

// index is the position of the change, or -1.
func (w *watcher) index(c session.Change) int {
	w.mu.Lock()
	defer w.mu.Unlock()
	for i, got := range w.changes {
		if got == c {
			return i
		}
	}
	return -1
}

func liveRecord(id string) session.Record {
	now := time.Now().UTC().Truncate(time.Second)
	return session.Record{Session: session.Session{ID: id, Created: now, Expires: now.Add(time.Hour), LastSeen: now}}
}

// createSoon retries creates (each with a fresh ID: a try that timed out
// may still land) until the store takes one while a failover is under way,
// and returns the ID that was created.
func createSoon(t *testing.T, st *redis.Store, within time.Duration) string {
	t.Helper()
	var id string
	n := 0
	eventually(t, within, "a create after the failover", func() bool {
		n++
		id = fmt.Sprintf("e%07x%024x", n, time.Now().UnixNano())
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		return st.Create(ctx, liveRecord(id)) == nil
	})
	return id
}

// TestFeedFollowsFailover: a gateway's change feed subscribes again after
// the primary is lost — killed (the connection is reset) or frozen (it
// is not: a site without power sends nothing) — and hears the changes made
// on the primary the Sentinels promoted. The frozen case failed before the
// feed pinged a silent connection: Receive waited for ever.
func TestFeedFollowsFailover(t *testing.T) {
	for _, loss := range []struct {
		name string
		lose func(*redistest.Server)
	}{
		{"killed", (*redistest.Server).Kill},
		{"frozen", (*redistest.Server).Freeze},
	} {
		t.Run(loss.name, func(t *testing.T) {
			rs := redistest.StartSentinel(t, 2)
			a, b := openOpts(t, sentinelOptions(rs)), openOpts(t, sentinelOptions(rs))
			defer a.Close()
			defer b.Close()
			w := watch(t, b)
			before := liveRecord("f0000000000000000000000000000001")
			if err := a.Create(context.Background(), before); err != nil {
				t.Fatal(err)
			}
			eventually(t, 2*time.Second, "B hears the first create", func() bool {
				return w.index(session.Change{Kind: session.ChangeCreated, ID: before.ID}) >= 0
			})

			old, err := rs.PrimaryAddr(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			loss.lose(rs.Server(old))
			start := time.Now()
			rs.WaitPrimary(t, 30*time.Second, old)
			promoted := time.Since(start)
			// Pub/sub keeps nothing for a subscriber that is away: what
			// was published before B subscribed again is for the resync
			// (session.Manager) to find. What comes after, B hears.
			eventually(t, 20*time.Second, "B's feed subscribes again", func() bool { return w.subscriptions() >= 2 })
			resubscribed := time.Since(start)
			after := createSoon(t, a, 30*time.Second)
			eventually(t, 5*time.Second, "B hears the create on the new primary", func() bool {
				return w.index(session.Change{Kind: session.ChangeCreated, ID: after}) >= 0
			})
			t.Logf("promoted after %v, B's feed subscribed again after %v", promoted.Round(time.Millisecond), resubscribed.Round(time.Millisecond))
			if _, err := b.Get(context.Background(), before.ID); err != nil {
				t.Errorf("the create acknowledged before the loss is gone: %v", err)
			}
		})
	}
}

// TestAckedMeansReplicated: with a replica to confirm, writes return once
// it has them; without, a create fails with ErrNotReplicated after the
// bounded wait, is undone and never announced, and a revocation reports
// the same.
func TestAckedMeansReplicated(t *testing.T) {
	primary := redistest.Start(t)
	replica := redistest.StartReplicaOf(t, primary)
	const timeout = 300 * time.Millisecond
	st := openOpts(t, redis.Options{Addr: primary.Addr(), MinReplicasAcked: redis.AutoReplicas, ReplicaTimeout: timeout})
	defer st.Close()
	if got := st.MinReplicasAcked(); got != 1 {
		t.Fatalf("MinReplicasAcked = %d on a server with a replica, want 1", got)
	}
	w := watch(t, st)
	ctx := context.Background()

	r1 := liveRecord("a0000000000000000000000000000001")
	if err := st.Create(ctx, r1); err != nil {
		t.Fatal(err)
	}
	// Acknowledged means the replica has it now, not soon.
	if n, err := replica.Client().Exists(ctx, "roamgate:{"+r1.ID+"}").Result(); err != nil || n != 1 {
		t.Fatalf("replica after an acknowledged create: exists %d, %v", n, err)
	}

	replica.Kill()
	r2 := liveRecord("a0000000000000000000000000000002")
	start := time.Now()
	err := st.Create(ctx, r2)
	took := time.Since(start)
	if !errors.Is(err, redis.ErrNotReplicated) {
		t.Fatalf("create without a replica: err = %v, want ErrNotReplicated", err)
	}
	if took < timeout || took > timeout+time.Second {
		t.Errorf("create without a replica failed after %v, want the %v wait", took, timeout)
	}
	// Taken back: revoked on the primary (it may already be on a replica
	// that a failover would promote), so never live anywhere.
	if got, err := st.Get(ctx, r2.ID); err != nil || !got.Revoked || got.SealedToken != nil {
		t.Errorf("an unconfirmed create was left live in the store: %+v, %v", got.Session, err)
	}
	if _, err := replica.Client().Ping(ctx).Result(); err == nil {
		t.Fatal("the replica answers: the test proves nothing")
	}
	if err := st.Revoke(ctx, r1.ID); !errors.Is(err, redis.ErrNotReplicated) {
		t.Errorf("revoke without a replica: err = %v, want ErrNotReplicated", err)
	}

	replica.Restart()
	replica.WaitOnline(primary)
	r3 := liveRecord("a0000000000000000000000000000003")
	if err := st.Create(ctx, r3); err != nil {
		t.Fatalf("create with the replica back: %v", err)
	}
	eventually(t, 2*time.Second, "the create is announced", func() bool {
		return w.index(session.Change{Kind: session.ChangeCreated, ID: r3.ID}) >= 0
	})
	// The feed is ordered: an announcement of r2 would have come first.
	if i := w.index(session.Change{Kind: session.ChangeCreated, ID: r2.ID}); i >= 0 {
		t.Errorf("the unconfirmed create was announced (change %d)", i)
	}
}

// TestReplicasDefault: AutoReplicas waits for nobody on a server without
// replicas; an explicit count the server cannot meet is warned about at
// Open and refuses writes.
func TestReplicasDefault(t *testing.T) {
	srv := redistest.Start(t)
	st := openOpts(t, redis.Options{Addr: srv.Addr(), MinReplicasAcked: redis.AutoReplicas})
	defer st.Close()
	if got := st.MinReplicasAcked(); got != 0 {
		t.Errorf("MinReplicasAcked = %d on a server without replicas, want 0", got)
	}
	strict, warn, err := redis.Open(context.Background(), redis.Options{Addr: srv.Addr(), MinReplicasAcked: 1, ReplicaTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer strict.Close()
	if len(warn) != 1 || !strings.Contains(warn[0], "only 0 are connected") {
		t.Errorf("warnings = %q, want one about the missing replica", warn)
	}
	if err := strict.Create(context.Background(), liveRecord("b0000000000000000000000000000001")); !errors.Is(err, redis.ErrNotReplicated) {
		t.Errorf("create: err = %v, want ErrNotReplicated", err)
	}
}

// TestOpenShapes: the options name one shape; anything else is refused
// before connecting.
func TestOpenShapes(t *testing.T) {
	for _, tc := range []struct {
		name string
		o    redis.Options
		want string
	}{
		{"none", redis.Options{}, "no address, Sentinel or Cluster"},
		{"two", redis.Options{Addr: "127.0.0.1:1", Cluster: []string{"127.0.0.1:2"}}, "give one of"},
		{"sentinel without name", redis.Options{Sentinel: redis.Sentinel{Addrs: []string{"127.0.0.1:1"}}}, "no master name"},
		{"sentinel without addresses", redis.Options{Sentinel: redis.Sentinel{MasterName: "m"}}, "sentinel: no addresses"},
		{"cluster with a database", redis.Options{Cluster: []string{"127.0.0.1:1"}, DB: 2}, "database 0 only"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := redis.Open(context.Background(), tc.o)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("err = %v, want %q", err, tc.want)
			}
		})
	}
}

// TestClusterFeedAndCrisis: on a real cluster, creates whose keys live on
// every shard are announced through the one feed, the crisis state is
// shared, and the feed keeps following after a primary is killed.
func TestClusterFeedAndCrisis(t *testing.T) {
	cl := redistest.StartCluster(t, 3, 1)
	o := redis.Options{Cluster: cl.Addrs(), MinReplicasAcked: redis.AutoReplicas}
	a, b := openOpts(t, o), openOpts(t, o)
	defer a.Close()
	defer b.Close()
	w := watch(t, b)
	ctx := context.Background()

	var ids []string
	for i := range 30 {
		r := liveRecord(fmt.Sprintf("c%031x", i+1))
		if err := a.Create(ctx, r); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, r.ID)
	}
	shards := 0
	for _, p := range cl.Primaries(ctx) {
		if n, _ := p.Client().DBSize(ctx).Result(); n > 0 {
			shards++
		}
	}
	if shards != 3 {
		t.Fatalf("the sessions landed on %d shards, want all 3", shards)
	}
	eventually(t, 5*time.Second, "every create announced", func() bool {
		for _, id := range ids {
			if w.index(session.Change{Kind: session.ChangeCreated, ID: id}) < 0 {
				return false
			}
		}
		return true
	})
	if err := a.Revoke(ctx, ids[0]); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Truncate(time.Second)
	if err := a.SaveCrisis(ctx, session.Crisis{Active: true, Since: now, Until: now.Add(time.Hour), By: "ops"}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "revocation and crisis announced", func() bool {
		return w.index(session.Change{Kind: session.ChangeRevoked, ID: ids[0]}) >= 0 && w.index(session.Change{Kind: session.ChangeCrisis}) >= 0
	})
	if c, err := b.LoadCrisis(ctx); err != nil || !c.Active || c.By != "ops" {
		t.Fatalf("LoadCrisis: %+v, %v", c, err)
	}

	cl.WaitReplicated(t, 10*time.Second)
	// Kill the primary the feed listens to (the channel's slot): the feed
	// must find the promoted replica. Pub/sub keeps nothing for a
	// subscriber that is away, so what is published before B subscribes
	// again is for the resync (session.Manager) to find; what comes after,
	// B must hear.
	slot, err := cl.KeySlot(ctx, "roamgate:changes")
	if err != nil {
		t.Fatal(err)
	}
	var feedPrimary *redistest.Server
	for _, p := range cl.Primaries(ctx) {
		if cl.Slots(ctx, p.Addr())(slot) {
			feedPrimary = p
		}
	}
	if feedPrimary == nil {
		t.Fatalf("no primary serves the feed's slot %d", slot)
	}
	subscribed := w.subscriptions()
	feedPrimary.Kill()
	cl.WaitHealthy(t, 30*time.Second, 3, 0)
	eventually(t, 20*time.Second, "B's feed subscribes again", func() bool { return w.subscriptions() > subscribed })
	// The shard without a replica now cannot confirm; a record whose key
	// lives elsewhere can. Try IDs until one is taken.
	var after string
	eventually(t, 30*time.Second, "a create after the failover", func() bool {
		after = fmt.Sprintf("d%031x", time.Now().UnixNano())
		ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
		defer cancel()
		return a.Create(ctx, liveRecord(after)) == nil
	})
	eventually(t, 10*time.Second, "B hears it", func() bool {
		return w.index(session.Change{Kind: session.ChangeCreated, ID: after}) >= 0
	})
	live := 0
	eventually(t, 10*time.Second, "Live reads every shard", func() bool {
		live = 0
		err := b.Live(ctx, time.Now(), func(session.Record) error { live++; return nil })
		return err == nil
	})
	if want := len(ids) - 1 + 1; live != want {
		t.Errorf("Live after the failover sees %d sessions, want %d", live, want)
	}
}

// TestKV checks the fiber.Storage-shaped store the portal keeps its CSRF
// tokens in, on one server and on a cluster (Reset scans every primary).
func TestKV(t *testing.T) {
	shapes := []struct {
		name string
		open func(t *testing.T) (*redis.Store, goredis.UniversalClient)
	}{
		{"single", func(t *testing.T) (*redis.Store, goredis.UniversalClient) {
			srv := redistest.Start(t)
			return openOpts(t, redis.Options{Addr: srv.Addr()}), srv.Client()
		}},
		{"cluster", func(t *testing.T) (*redis.Store, goredis.UniversalClient) {
			cl := redistest.StartCluster(t, 3, 0)
			c := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs()})
			t.Cleanup(func() { c.Close() })
			return openOpts(t, redis.Options{Cluster: cl.Addrs()}), c
		}},
	}
	for _, shape := range shapes {
		t.Run(shape.name, func(t *testing.T) {
			st, raw := shape.open(t)
			defer st.Close()
			kv, other := st.KV("csrf"), st.KV("other")
			if v, err := kv.Get("missing"); v != nil || err != nil {
				t.Fatalf("Get of a missing key = %q, %v; want nil, nil", v, err)
			}
			for i := range 50 {
				if err := kv.Set(fmt.Sprintf("token-%d", i), []byte("x"), time.Hour); err != nil {
					t.Fatal(err)
				}
			}
			if err := other.Set("keep", []byte("kept"), 0); err != nil {
				t.Fatal(err)
			}
			if err := kv.Set("", []byte("x"), 0); err != nil {
				t.Errorf("Set with an empty key: %v, want it ignored", err)
			}
			if v, err := kv.Get("token-7"); string(v) != "x" || err != nil {
				t.Fatalf("Get = %q, %v", v, err)
			}
			sum := sha256.Sum256([]byte("token-7"))
			ttl, err := raw.PTTL(context.Background(), "roamgate:csrf:"+hex.EncodeToString(sum[:])).Result()
			if err != nil || ttl <= 59*time.Minute || ttl > time.Hour {
				t.Errorf("TTL of a token = %v, %v; want the hour it was set for", ttl, err)
			}
			if err := kv.Delete("token-7"); err != nil {
				t.Fatal(err)
			}
			if v, _ := kv.Get("token-7"); v != nil {
				t.Errorf("Get after Delete = %q", v)
			}
			if err := kv.Set("short", []byte("x"), 50*time.Millisecond); err != nil {
				t.Fatal(err)
			}
			eventually(t, 2*time.Second, "a short-lived value expires", func() bool { v, _ := kv.Get("short"); return v == nil })
			if err := kv.Reset(); err != nil {
				t.Fatal(err)
			}
			for i := range 50 {
				if v, _ := kv.Get(fmt.Sprintf("token-%d", i)); v != nil {
					t.Fatalf("token-%d survived Reset", i)
				}
			}
			if v, _ := other.Get("keep"); string(v) != "kept" {
				t.Errorf("Reset of one KV removed another's key (got %q)", v)
			}
		})
		t.Run(shape.name+"/forms bounded", func(t *testing.T) {
			st, raw := shape.open(t)
			defer st.Close()
			testFormLedger(t, st.KV("csrf"), raw)
		})
	}
}

// testFormLedger: a flood of forms from one client stays within its share,
// everyone's forms within the total, the oldest go first, a client's other
// forms and other clients' survive, and no token is stored in plaintext.
// Before the ledger the flood grew Redis without end.
func testFormLedger(t *testing.T, kv *redis.KV, raw goredis.UniversalClient) {
	ctx := context.Background()
	const perOwner, total = 8, 20
	set := func(key, owner string) int {
		t.Helper()
		if err := kv.Set(key, []byte("x"), time.Hour); err != nil {
			t.Fatal(err)
		}
		return kv.ClaimForm(key, owner, perOwner, total)
	}
	for i := range 3 {
		if n := set(fmt.Sprintf("citizen-%d", i), "owner-citizen"); n != 0 {
			t.Fatalf("a citizen's form %d dropped %d", i, n)
		}
	}
	dropped := 0
	for i := range 50 {
		dropped += set(fmt.Sprintf("flood-%02d", i), "owner-attacker")
	}
	if dropped != 50-perOwner {
		t.Errorf("the flood dropped %d of its own forms, want %d", dropped, 50-perOwner)
	}
	for i := range 50 {
		v, _ := kv.Get(fmt.Sprintf("flood-%02d", i))
		if kept := v != nil; kept != (i >= 50-perOwner) {
			t.Errorf("flood form %d kept = %v; want only the newest %d", i, kept, perOwner)
		}
	}
	for i := range 3 {
		if v, _ := kv.Get(fmt.Sprintf("citizen-%d", i)); v == nil {
			t.Errorf("the citizen's form %d went in another client's flood", i)
		}
	}
	if n := kv.ClaimForm("citizen-0", "owner-citizen", perOwner, total); n != 0 {
		t.Errorf("claiming a form again dropped %d", n)
	}
	if n := kv.ClaimForm("never-set", "owner-citizen", perOwner, total); n != 0 {
		t.Errorf("claiming a key that is not stored dropped %d", n)
	}
	// Many clients: the total holds, the oldest go.
	for i := range 30 {
		set(fmt.Sprintf("crowd-%02d", i), fmt.Sprintf("owner-%02d", i))
	}
	pending := 0
	for _, k := range []string{"citizen-0", "citizen-1", "citizen-2"} {
		if v, _ := kv.Get(k); v != nil {
			pending++
		}
	}
	for i := range 50 {
		if v, _ := kv.Get(fmt.Sprintf("flood-%02d", i)); v != nil {
			pending++
		}
	}
	for i := range 30 {
		if v, _ := kv.Get(fmt.Sprintf("crowd-%02d", i)); v != nil {
			pending++
		}
	}
	if pending != total {
		t.Errorf("%d forms pending after 30 more clients, want the total %d", pending, total)
	}
	if v, _ := kv.Get("crowd-29"); v == nil {
		t.Error("the newest form went; the oldest should")
	}
	if v, _ := kv.Get("citizen-0"); v != nil {
		t.Error("the oldest form survived the total")
	}
	// Tokens are stored hashed: the plaintext is no key, its SHA-256 is.
	if n, _ := raw.Exists(ctx, "roamgate:csrf:crowd-29").Result(); n != 0 {
		t.Error("a token is stored under its plaintext")
	}
	sum := sha256.Sum256([]byte("crowd-29"))
	if ttl, err := raw.PTTL(ctx, "roamgate:csrf:"+hex.EncodeToString(sum[:])).Result(); err != nil || ttl <= 59*time.Minute {
		t.Errorf("the hashed token's TTL = %v, %v; want about an hour", ttl, err)
	}
}

// TestKVWhileRedisIsAway: values set while Redis fails are kept in the
// process, so a form opened and posted at one gateway still passes; they
// stay readable when Redis is back.
func TestKVWhileRedisIsAway(t *testing.T) {
	srv := redistest.Start(t)
	st := openOpts(t, redis.Options{Addr: srv.Addr()})
	defer st.Close()
	kv := st.KV("csrf")
	srv.Kill()
	if err := kv.Set("token", []byte("x"), time.Hour); err != nil {
		t.Fatalf("Set while Redis is away: %v", err)
	}
	if v, err := kv.Get("token"); string(v) != "x" || err != nil {
		t.Fatalf("Get while Redis is away = %q, %v; want the value kept in memory", v, err)
	}
	if _, err := kv.Get("other"); err == nil {
		t.Errorf("Get of an unknown key while Redis is away: no error")
	}
	srv.Restart()
	eventually(t, 10*time.Second, "the value is still there with Redis back", func() bool {
		v, err := kv.Get("token")
		return string(v) == "x" && err == nil
	})
	if err := kv.Delete("token"); err != nil {
		t.Fatal(err)
	}
	if v, _ := kv.Get("token"); v != nil {
		t.Errorf("Get after Delete = %q", v)
	}
}

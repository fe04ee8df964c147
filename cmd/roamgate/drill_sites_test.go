package main

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/internal/nastest"
	"roamgate/internal/redistest"
	"roamgate/internal/testtool"
)

// TestDrillLoseSiteA is the two-site drill (docs/OPERATIONS.md, "Drill:
// losing a site"). Site A (Rathaus) runs a roamgate and the Redis primary,
// site B (Schulbusch) a roamgate and a replica, a third small host a
// replica; a Sentinel runs on each of the three. Access points ask A first
// and B second. Under load, site A is killed (SIGKILL, roamgate and Redis
// at once). Then:
//   - new sign-ins are acknowledged at B again within the failover time;
//   - known devices get Access-Accept throughout (from B's memory while no
//     primary exists);
//   - a session revoked at B during the outage stays revoked;
//   - site A comes back, its Redis as a replica, its roamgate from the
//     store: every acknowledged sign-in — before, during and after the loss
//     — is accepted by the real radclient at both gateways, no device has
//     two sessions, and both gateways count the same sessions as the store.
func TestDrillLoseSiteA(t *testing.T) {
	needTools(t, "radclient", "redis-server")
	testtool.Need(t, "redis-sentinel", "redis-sentinel")
	bin := buildBinary(t)
	rs := redistest.StartSentinel(t, 2) // Servers: 0 site A (primary), 1 site B, 2 the third host
	siteARedis := rs.Servers[0]
	keys := keysInit(t, bin)
	env := []string{"ROAMGATE_KEYS_DIR=" + keys, "ROAMGATE_STORE_DRIVER=redis",
		"ROAMGATE_STORE_REDIS_SENTINEL_MASTER_NAME=" + redistest.MasterName,
		"ROAMGATE_STORE_REDIS_SENTINEL_ADDRESSES=" + strings.Join(rs.SentinelAddrs(), ","),
		"ROAMGATE_STORE_REDIS_MIN_REPLICAS_ACKED=1"}
	envA := append(slices.Clone(env), "ROAMGATE_DATA_DIR="+t.TempDir())
	a := startGatewayProc(t, bin, envA...)
	b := startGatewayProc(t, bin, append(slices.Clone(env), "ROAMGATE_DATA_DIR="+t.TempDir())...)

	d := newDrill(t, a.portal, b.portal)
	defer func() {
		select {
		case <-d.stop:
		default:
			d.stopLoad()
		}
	}()
	d.signIns(8)
	known := d.warmUp(b, 40)
	d.accessPoints([]*nastest.NAS{nasFor("bahnhof-ap-1", a, b), nasFor("stadtpark-ap-3", a, b)}, 20*time.Millisecond)
	waitFor(t, 20*time.Second, "the load runs", func() bool { return d.ackedCount() >= len(known)+60 })

	kill := time.Now()
	a.cmd.Process.Kill()
	siteARedis.Kill()
	a.cmd.Wait()
	promoted := rs.WaitPrimary(t, 30*time.Second, siteARedis.Addr())
	failedOver := time.Now()
	var first signedIn
	waitFor(t, 30*time.Second, "a new sign-in acknowledged at B", func() bool {
		var ok bool
		first, ok = d.firstStartedAfter(kill, nil)
		return ok
	})
	t.Logf("site A killed; Sentinel promoted %s %v after the kill; first new sign-in acknowledged at B %v after the kill",
		promoted.Addr(), failedOver.Sub(kill).Round(time.Millisecond), first.done.Sub(kill).Round(time.Millisecond))
	resumeAfterFailover(t, failedOver, first.done)

	victim := known[0]
	d.forget(victim.mac)
	took := revokeAt(t, b, victim.id, revokeWithin)
	if got := macAuth(t, b.radius, victim.mac, "bahnhof-ap-1"); got != "reject" {
		t.Errorf("B answers %s for the session it revoked", got)
	}
	// (The admin's answer waits for the Disconnect-Request to the NAS,
	// which the test NAS does not answer: 3 s of it is that timeout.)
	t.Logf("revocation during the outage answered by B after %v", took.Round(time.Millisecond))
	during := d.ackedCount()
	waitFor(t, 20*time.Second, "sign-ins during the outage", func() bool { return d.ackedCount() >= during+40 })

	back := time.Now()
	siteARedis.Restart()
	c := siteARedis.Client()
	waitFor(t, 30*time.Second, "site A's Redis rejoins as a replica", func() bool {
		info := c.Info(context.Background(), "replication").Val()
		return strings.Contains(info, "role:slave") && strings.Contains(info, "master_link_status:up")
	})
	t.Logf("site A's Redis is a replica again %v after its restart", time.Since(back).Round(time.Millisecond))
	a2 := startGatewayProc(t, bin, envA...)
	d.mu.Lock()
	d.balancer = []string{a2.portal, b.portal}
	d.mu.Unlock()
	rejoined := time.Now()
	waitFor(t, 20*time.Second, "sign-ins after site A is back", func() bool {
		return len(d.ackedBetween(rejoined, time.Now().Add(time.Hour))) >= 30
	})
	d.stopLoad()

	store := goredis.NewFailoverClient(&goredis.FailoverOptions{MasterName: redistest.MasterName, SentinelAddrs: rs.SentinelAddrs()})
	defer store.Close()
	d.verify(kill, back, store, a2, b)
}

// TestDrillClusterLosesAPrimary is the drill on a Redis Cluster of three
// primaries with two replicas each, shared by two roamgates: under load one
// primary is killed. Its shard's sign-ins resume once a replica took over;
// the other shards never stop; every acknowledged sign-in survives, the
// killed node rejoins as a replica, and a gateway restarted from the store
// agrees with the one that ran throughout.
func TestDrillClusterLosesAPrimary(t *testing.T) {
	needTools(t, "radclient", "redis-server")
	bin := buildBinary(t)
	cl := redistest.StartCluster(t, 3, 2)
	keys := keysInit(t, bin)
	env := []string{"ROAMGATE_KEYS_DIR=" + keys, "ROAMGATE_STORE_DRIVER=redis",
		"ROAMGATE_STORE_REDIS_CLUSTER=" + strings.Join(cl.Addrs(), ","),
		"ROAMGATE_STORE_REDIS_MIN_REPLICAS_ACKED=1"}
	envA := append(slices.Clone(env), "ROAMGATE_DATA_DIR="+t.TempDir())
	a := startGatewayProc(t, bin, envA...)
	b := startGatewayProc(t, bin, append(slices.Clone(env), "ROAMGATE_DATA_DIR="+t.TempDir())...)

	d := newDrill(t, a.portal, b.portal)
	defer func() {
		select {
		case <-d.stop:
		default:
			d.stopLoad()
		}
	}()
	d.signIns(8)
	known := d.warmUp(b, 40)
	d.accessPoints([]*nastest.NAS{nasFor("bahnhof-ap-1", a, b), nasFor("stadtpark-ap-3", b, a)}, 20*time.Millisecond)
	waitFor(t, 20*time.Second, "the load runs", func() bool { return d.ackedCount() >= len(known)+60 })

	ctx := context.Background()
	victim := cl.Primaries(ctx)[0]
	inShard := cl.Slots(ctx, victim.Addr())
	kill := time.Now()
	victim.Kill()
	cl.WaitHealthy(t, 30*time.Second, 3, 1)
	failedOver := time.Now()
	var first signedIn
	waitFor(t, 30*time.Second, "a new sign-in acknowledged in the killed primary's shard", func() bool {
		var ok bool
		first, ok = d.firstStartedAfter(kill, func(s signedIn) bool {
			slot, err := cl.KeySlot(ctx, "roamgate:{"+s.id+"}")
			return err == nil && inShard(slot)
		})
		return ok
	})
	feedSlot, _ := cl.KeySlot(ctx, "roamgate:changes")
	t.Logf("primary %s killed (it served the change feed: %v); a replica took over %v after the kill; first new sign-in in its shard acknowledged %v after the kill",
		victim.Addr(), inShard(feedSlot), failedOver.Sub(kill).Round(time.Millisecond), first.done.Sub(kill).Round(time.Millisecond))
	resumeAfterFailover(t, failedOver, first.done)

	rv := known[0]
	d.forget(rv.mac)
	took := revokeAt(t, b, rv.id, revokeWithin)
	for _, gw := range []*gatewayProc{a, b} {
		if got := macAuth(t, gw.radius, rv.mac, "bahnhof-ap-1"); got != "reject" {
			t.Errorf("gateway %s answers %s for the session revoked during the outage", gw.radius, got)
		}
	}
	t.Logf("revocation during the outage answered after %v (with the unanswered Disconnect-Request's timeout)", took.Round(time.Millisecond))
	during := d.ackedCount()
	waitFor(t, 20*time.Second, "sign-ins during the outage", func() bool { return d.ackedCount() >= during+40 })

	back := time.Now()
	victim.Restart()
	cl.WaitHealthy(t, 30*time.Second, 3, 2)
	t.Logf("the killed node is a replica again %v after its restart", time.Since(back).Round(time.Millisecond))
	rejoined := time.Now()
	waitFor(t, 20*time.Second, "sign-ins after the node is back", func() bool {
		return len(d.ackedBetween(rejoined, time.Now().Add(time.Hour))) >= 30
	})
	d.stopLoad()

	// A gateway that starts now knows only what the store kept.
	a.stop(t)
	a2 := startGatewayProc(t, bin, envA...)
	store := goredis.NewClusterClient(&goredis.ClusterOptions{Addrs: cl.Addrs()})
	defer store.Close()
	d.verify(kill, back, store, a2, b)
}

// warmUp waits for n sign-ins, checks that gw accepts every one of them
// (the feed carried them), and makes them the devices the access points
// ask about.
func (d *drill) warmUp(gw *gatewayProc, n int) []signedIn {
	d.t.Helper()
	waitFor(d.t, 30*time.Second, "the first sign-ins", func() bool { return d.ackedCount() >= n })
	warm := d.ackedBetween(time.Time{}, time.Now())[:n]
	macs := d.macsOf(warm)
	waitFor(d.t, 5*time.Second, "every gateway accepts the first sign-ins", func() bool {
		ok, _ := radclientBatch(d.t, gw.radius, macs)
		return ok == len(macs)
	})
	d.makeKnown(warm)
	return warm
}

// verify is the drill's reckoning once the load has stopped: nothing
// acknowledged is lost at any gateway, the revoked stay revoked, no device
// has two sessions, and the gateways agree with the store.
func (d *drill) verify(kill, back time.Time, store goredis.UniversalClient, gws ...*gatewayProc) {
	t := d.t
	t.Helper()
	total, fromSecondary, slowest := d.checkKnownAccepted(kill)
	t.Logf("known devices: %d MAC authentications, all Access-Accept (%d answered by the secondary); slowest answer %v",
		total, fromSecondary, slowest.Round(time.Millisecond))

	d.mu.Lock()
	acked := slices.Clone(d.acked)
	var revoked []string
	for mac := range d.revoked {
		revoked = append(revoked, mac)
	}
	d.mu.Unlock()
	macs := d.macsOf(acked)
	for _, gw := range gws {
		approved, denied := radclientBatch(t, gw.radius, macs)
		t.Logf("gateway %s: %d Access-Accept, %d Access-Reject for the %d acknowledged sign-ins", gw.radius, approved, denied, len(macs))
		if approved != len(macs) {
			t.Errorf("gateway %s: %d acknowledged sign-ins lost", gw.radius, len(macs)-approved)
		}
		for _, mac := range revoked {
			if got := macAuth(t, gw.radius, mac, "bahnhof-ap-1"); got != "reject" {
				t.Errorf("gateway %s: a session revoked during the outage is back (%s)", gw.radius, got)
			}
		}
	}

	live := liveInStore(t, store)
	for _, s := range acked {
		if _, ok := live[s.id]; !ok && !slices.Contains(revoked, s.mac) {
			t.Errorf("acknowledged sign-in %s (%s at %s) is not in the store", s.id, s.mac, s.via)
		}
	}
	var counts []int
	for deadline := time.Now().Add(10 * time.Second); ; {
		counts = counts[:0]
		agree := true
		for _, gw := range gws {
			n := int(metric(t, gw, "roamgate_sessions_active"))
			counts = append(counts, n)
			agree = agree && n == len(live)
		}
		if agree {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("the gateways count %v live sessions, the store has %d", counts, len(live))
			break
		}
		time.Sleep(50 * time.Millisecond) // poll interval, bounded by the deadline
	}
	d.report(t, kill, back)
	t.Logf("store: %d live sessions; lost: 0", len(live))
}

// resumeAfterFailover: sign-ins resume within the failover time — roamgate
// adds at most a few seconds to what Redis takes to promote a replica (the
// test saw the promotion at failedOver, polling; the busy test machine
// gets a generous margin).
func resumeAfterFailover(t *testing.T, failedOver, firstAck time.Time) {
	t.Helper()
	if d := firstAck.Sub(failedOver); d > 5*time.Second {
		t.Errorf("the first sign-in was acknowledged %v after the failover completed", d.Round(time.Millisecond))
	}
}

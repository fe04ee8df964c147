package redistest

import (
	"context"
	"fmt"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/internal/testtool"
)

// ClusterNodeTimeout is cluster-node-timeout: how long a primary must not
// answer before the cluster fails it over (short for a drill; the runbook
// keeps the production value).
const ClusterNodeTimeout = 1000 * time.Millisecond

// Cluster is a Redis Cluster of private servers.
type Cluster struct {
	t     testing.TB
	Nodes []*Server
	// replicas is how many replicas each primary got.
	replicas int
}

// StartCluster starts primaries×(1+replicas) cluster-enabled servers, joins
// them with `redis-cli --cluster create` and waits until every node says
// the cluster is ok and every replica is in sync. Coverage is not required
// (cluster-require-full-coverage no): while one shard fails over, the
// others keep serving, as the runbook recommends.
func StartCluster(t testing.TB, primaries, replicas int) *Cluster {
	t.Helper()
	testtool.Need(t, "redis-server", "redis-server")
	testtool.Need(t, "redis-cli", "redis-tools")
	c := &Cluster{t: t, replicas: replicas}
	args := []string{"--cluster-enabled", "yes", "--cluster-config-file", "nodes.conf",
		"--cluster-node-timeout", strconv.FormatInt(ClusterNodeTimeout.Milliseconds(), 10),
		"--cluster-require-full-coverage", "no"}
	for range primaries * (1 + replicas) {
		c.Nodes = append(c.Nodes, start(t, args...))
	}
	create := []string{"--cluster", "create"}
	create = append(create, c.Addrs()...)
	create = append(create, "--cluster-replicas", strconv.Itoa(replicas), "--cluster-yes")
	if out, err := exec.Command("redis-cli", create...).CombinedOutput(); err != nil {
		t.Fatalf("redis-cli --cluster create: %v\n%s", err, out)
	}
	c.WaitHealthy(t, 30*time.Second, primaries, replicas)
	if replicas > 0 {
		c.waitConfirming(30*time.Second, replicas)
	}
	return c
}

// waitConfirming waits until every primary's replicas confirm a write made
// now (WAIT): after the initial sync a primary may hold the stream back
// for a moment, and WAITs made meanwhile count nobody.
func (c *Cluster) waitConfirming(within time.Duration, replicas int) {
	c.t.Helper()
	ctx := context.Background()
	waitFor(c.t, within, "replicas confirm writes", func() bool {
		for _, p := range c.Primaries(ctx) {
			owns := c.Slots(ctx, p.Addr())
			key := ""
			for i := 0; key == "" && i < 100000; i++ {
				k := fmt.Sprintf("redistest:sync:%d", i)
				if slot, err := c.KeySlot(ctx, k); err == nil && owns(slot) {
					key = k
				}
			}
			cl := goredis.NewClient(&goredis.Options{Addr: p.Addr(), MaxRetries: -1, DialTimeout: time.Second})
			conn := cl.Conn()
			ok := conn.Incr(ctx, key).Err() == nil
			if ok {
				n, err := conn.Wait(ctx, replicas, 500*time.Millisecond).Result()
				ok = err == nil && n >= int64(replicas)
			}
			conn.Close()
			cl.Close()
			if !ok {
				return false
			}
		}
		return true
	})
}

// Addrs are every node's address (the seed list of a cluster client).
func (c *Cluster) Addrs() []string {
	out := make([]string, len(c.Nodes))
	for i, n := range c.Nodes {
		out[i] = n.Addr()
	}
	return out
}

// node is one line of CLUSTER NODES.
type node struct {
	addr, id, master string
	primary, failed  bool
	slots            int
	ranges           [][2]int
}

// nodes reads CLUSTER NODES from the first running node that answers.
func (c *Cluster) nodes(ctx context.Context) ([]node, error) {
	var lastErr error
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		cl := goredis.NewClient(&goredis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		text, err := cl.ClusterNodes(ctx).Result()
		cl.Close()
		if err != nil {
			lastErr = err
			continue
		}
		var out []node
		for _, line := range strings.Split(strings.TrimSpace(text), "\n") {
			f := strings.Fields(line)
			if len(f) < 8 {
				continue
			}
			addr, _, _ := strings.Cut(f[1], "@")
			nd := node{addr: addr, id: f[0], master: f[3],
				primary: strings.Contains(f[2], "master"), failed: strings.Contains(f[2], "fail")}
			for _, s := range f[8:] {
				if lo, hi, ok := strings.Cut(s, "-"); ok {
					a, _ := strconv.Atoi(lo)
					b, _ := strconv.Atoi(hi)
					nd.slots += b - a + 1
					nd.ranges = append(nd.ranges, [2]int{a, b})
				} else if !strings.HasPrefix(s, "[") {
					a, _ := strconv.Atoi(s)
					nd.slots++
					nd.ranges = append(nd.ranges, [2]int{a, a})
				}
			}
			out = append(out, nd)
		}
		return out, nil
	}
	return nil, fmt.Errorf("redistest: no cluster node answers: %v", lastErr)
}

// Primaries are the running servers that serve slots as primaries now.
func (c *Cluster) Primaries(ctx context.Context) []*Server {
	nodes, err := c.nodes(ctx)
	if err != nil {
		return nil
	}
	var out []*Server
	for _, nd := range nodes {
		if nd.primary && !nd.failed && nd.slots > 0 {
			for _, s := range c.Nodes {
				if s.Addr() == nd.addr && s.Running() {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// WaitHealthy waits until every running node reports cluster_state:ok,
// the given number of primaries cover all 16384 slots, and every primary
// has at least minReplicas replicas whose link is up. A timeout fails t,
// the calling (sub)test.
func (c *Cluster) WaitHealthy(t testing.TB, within time.Duration, primaries, minReplicas int) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, within, fmt.Sprintf("cluster ok with %d primaries and %d replicas each", primaries, minReplicas), func() bool {
		for _, n := range c.Nodes {
			if !n.Running() {
				continue
			}
			cl := goredis.NewClient(&goredis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
			state := info0(ctx, cl)
			link := info(ctx, cl, "replication", "master_link_status")
			role := info(ctx, cl, "replication", "role")
			cl.Close()
			if state != "ok" || (role == "slave" && link != "up") {
				return false
			}
		}
		nodes, err := c.nodes(ctx)
		if err != nil {
			return false
		}
		slots, masters := 0, 0
		replicasOf := map[string]int{}
		for _, nd := range nodes {
			if nd.failed {
				continue
			}
			if nd.primary && nd.slots > 0 {
				slots += nd.slots
				masters++
			} else if !nd.primary {
				replicasOf[nd.master]++
			}
		}
		if slots != 16384 || masters != primaries {
			return false
		}
		for _, nd := range nodes {
			if nd.primary && !nd.failed && nd.slots > 0 && replicasOf[nd.id] < minReplicas {
				return false
			}
		}
		return true
	})
}

// info0 is cluster_state from CLUSTER INFO.
func info0(ctx context.Context, c *goredis.Client) string {
	text, err := c.ClusterInfo(ctx).Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(text, "\r\n") {
		if v, ok := strings.CutPrefix(line, "cluster_state:"); ok {
			return v
		}
	}
	return ""
}

// WaitReplicated waits until every replica of every running primary has
// acknowledged everything its primary wrote (the offsets in INFO
// replication agree; replicas acknowledge once a second).
func (c *Cluster) WaitReplicated(t testing.TB, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	waitFor(t, within, "replicas caught up", func() bool {
		for _, p := range c.Primaries(ctx) {
			cl := goredis.NewClient(&goredis.Options{Addr: p.Addr(), MaxRetries: -1, DialTimeout: time.Second})
			text, err := cl.Info(ctx, "replication").Result()
			cl.Close()
			if err != nil {
				return false
			}
			var master string
			var offsets []string
			for _, line := range strings.Split(text, "\r\n") {
				if v, ok := strings.CutPrefix(line, "master_repl_offset:"); ok {
					master = v
				}
				if strings.HasPrefix(line, "slave") && strings.Contains(line, "offset=") {
					_, rest, _ := strings.Cut(line, "offset=")
					off, _, _ := strings.Cut(rest, ",")
					offsets = append(offsets, off)
				}
			}
			for _, off := range offsets {
				if off != master {
					return false
				}
			}
		}
		return true
	})
}

// Node returns the server listening at addr, or nil.
func (c *Cluster) Node(addr string) *Server {
	for _, s := range c.Nodes {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// Slots returns a test for the slots the node at addr serves now (empty
// if it serves none).
func (c *Cluster) Slots(ctx context.Context, addr string) func(slot int) bool {
	c.t.Helper()
	nodes, err := c.nodes(ctx)
	if err != nil {
		c.t.Fatal(err)
	}
	var ranges [][2]int
	for _, nd := range nodes {
		if nd.addr == addr {
			ranges = nd.ranges
		}
	}
	return func(slot int) bool {
		for _, r := range ranges {
			if slot >= r[0] && slot <= r[1] {
				return true
			}
		}
		return false
	}
}

// KeySlot is the slot of key (CLUSTER KEYSLOT on a running node).
func (c *Cluster) KeySlot(ctx context.Context, key string) (int, error) {
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		cl := goredis.NewClient(&goredis.Options{Addr: n.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		slot, err := cl.ClusterKeySlot(ctx, key).Result()
		cl.Close()
		if err == nil {
			return int(slot), nil
		}
	}
	return 0, fmt.Errorf("redistest: no node answers CLUSTER KEYSLOT")
}

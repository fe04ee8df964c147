package redistest

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/internal/testtool"
)

// MasterName is the name the Sentinels of StartSentinel monitor.
const MasterName = "roamgate"

// Sentinel timings: short, so that a drill's failover takes seconds (the
// defaults, 30 s and 3 min, are for production and stay in the runbook).
const (
	// SentinelDownAfter is down-after-milliseconds: how long the primary
	// must not answer before a Sentinel calls it down. Not shorter: at
	// 1 s, CI's TestStoreSentinel/AdminGeneration saw a replica promoted a
	// second before stall for just over a second under the full suite's
	// load, and the Sentinels failed over again to the killed primary
	// that Rejoin had just restarted, which then never became a replica.
	SentinelDownAfter = 3000 * time.Millisecond
	// SentinelFailoverTimeout is failover-timeout.
	SentinelFailoverTimeout = 5 * time.Second
)

// Replicated is a primary, its replicas and three Sentinels (quorum two),
// as two sites and a small third host run them. Servers[0] starts as the
// primary; after a failover Primary says which one is.
type Replicated struct {
	t         testing.TB
	Servers   []*Server
	Sentinels []*SentinelProc
}

// SentinelProc is one redis-sentinel process.
type SentinelProc struct {
	t    testing.TB
	conf string
	port int

	mu  sync.Mutex
	cmd *exec.Cmd
	out *syncBuilder
}

// StartSentinel starts a primary with the given number of replicas and three
// Sentinels watching it, and waits until the replicas are in sync and every
// Sentinel knows the others and every replica (only then can a failover be
// authorised and choose a replica).
func StartSentinel(t testing.TB, replicas int) *Replicated {
	t.Helper()
	testtool.Need(t, "redis-server", "redis-server")
	testtool.Need(t, "redis-sentinel", "redis-sentinel")
	r := &Replicated{t: t}
	primary := start(t)
	r.Servers = append(r.Servers, primary)
	for range replicas {
		r.Servers = append(r.Servers, start(t, "--replicaof", "127.0.0.1", strconv.Itoa(primary.port)))
	}
	for range 3 {
		r.Sentinels = append(r.Sentinels, startSentinel(t, primary.port))
	}
	ctx := context.Background()
	pc := primary.Client()
	waitFor(t, 20*time.Second, "replicas in sync", func() bool {
		return onlineReplicas(ctx, pc) == replicas && caughtUp(ctx, primary.Addr(), replicas)
	})
	for _, s := range r.Sentinels {
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1})
		waitFor(t, 20*time.Second, "Sentinel "+s.Addr()+" knows its peers and the replicas", func() bool {
			peers, err1 := sc.Sentinels(ctx, MasterName).Result()
			reps, err2 := sc.Replicas(ctx, MasterName).Result()
			return err1 == nil && err2 == nil && len(peers) == 2 && len(reps) == replicas
		})
		sc.Close()
	}
	return r
}

// SentinelAddrs are the Sentinels' addresses.
func (r *Replicated) SentinelAddrs() []string {
	out := make([]string, len(r.Sentinels))
	for i, s := range r.Sentinels {
		out[i] = s.Addr()
	}
	return out
}

// PrimaryAddr is the primary's address as a running Sentinel reports it.
func (r *Replicated) PrimaryAddr(ctx context.Context) (string, error) {
	var lastErr error
	for _, s := range r.Sentinels {
		if !s.Running() {
			continue
		}
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		a, err := sc.GetMasterAddrByName(ctx, MasterName).Result()
		sc.Close()
		if err == nil && len(a) == 2 {
			return net.JoinHostPort(a[0], a[1]), nil
		}
		lastErr = err
	}
	return "", fmt.Errorf("redistest: no Sentinel names the primary: %v", lastErr)
}

// settledPrimary is the primary every running Sentinel names, none of them
// in a failover; an error when they disagree or one is failing over.
func (r *Replicated) settledPrimary(ctx context.Context) (string, error) {
	agreed := ""
	for _, s := range r.Sentinels {
		if !s.Running() {
			continue
		}
		sc := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
		m, err := sc.Master(ctx, MasterName).Result()
		sc.Close()
		if err != nil {
			return "", err
		}
		if strings.Contains(m["flags"], "failover") {
			return "", fmt.Errorf("redistest: Sentinel %s is failing over (%s)", s.Addr(), m["flags"])
		}
		addr := net.JoinHostPort(m["ip"], m["port"])
		if agreed != "" && addr != agreed {
			return "", fmt.Errorf("redistest: the Sentinels disagree: %s and %s", agreed, addr)
		}
		agreed = addr
	}
	if agreed == "" {
		return "", errors.New("redistest: no Sentinel runs")
	}
	return agreed, nil
}

// Server returns the server listening at addr, or nil.
func (r *Replicated) Server(addr string) *Server {
	for _, s := range r.Servers {
		if s.Addr() == addr {
			return s
		}
	}
	return nil
}

// WaitPrimary waits until every running Sentinel names the same running
// primary other than not (the address of one that was killed; "" for any),
// none of them is still in the failover, and that server answers as a
// primary; it returns it. A Sentinel names the promoted replica while it is
// still reconfiguring the others, and one that has not yet heard the new
// configuration still names the killed server: bringing that server back
// then (Rejoin) can make the lagging Sentinel demote the new primary under
// the restarted, empty one — the failure CI saw once, the Sentinels naming
// the killed server again. A timeout fails t, the calling (sub)test.
func (r *Replicated) WaitPrimary(t testing.TB, within time.Duration, not string) *Server {
	t.Helper()
	ctx := context.Background()
	var p *Server
	waitFor(t, within, "a new primary every Sentinel agrees on", func() bool {
		addr, err := r.settledPrimary(ctx)
		if err != nil || addr == not {
			return false
		}
		p = r.Server(addr)
		if p == nil || !p.Running() {
			return false
		}
		c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
		defer c.Close()
		return info(ctx, c, "replication", "role") == "master"
	})
	return p
}

// WaitReplicated waits until every running server other than the primary
// is a replica that has everything written to the primary so far. A server
// killed and not restarted is not waited for: after a failover the
// topology is one replica short until it comes back. A timeout fails t,
// the calling (sub)test.
func (r *Replicated) WaitReplicated(t testing.TB, within time.Duration) {
	t.Helper()
	ctx := context.Background()
	n := -1 // the primary is one of the running servers
	for _, s := range r.Servers {
		if s.Running() {
			n++
		}
	}
	waitFor(t, within, fmt.Sprintf("%d replicas in sync", n), func() bool {
		addr, err := r.PrimaryAddr(ctx)
		if err != nil {
			return false
		}
		return caughtUp(ctx, addr, n)
	})
}

// Rejoin starts s, a server killed in a failover, again and waits until
// the Sentinels have made it a replica of the current primary and every
// running replica confirms writes: the topology is whole and settled.
// Sentinel converts an old primary once it has seen it back for 8 s (plus
// an INFO period); doing it by hand (REPLICAOF) races Sentinel's own
// reconfiguration, which then resyncs the replica again while the next
// test runs. A timeout fails t.
func (r *Replicated) Rejoin(t testing.TB, s *Server) {
	t.Helper()
	ctx := context.Background()
	s.Restart()
	c := s.Client()
	rejoined := func() bool {
		addr, err := r.PrimaryAddr(ctx)
		if err != nil {
			return false
		}
		_, port, _ := net.SplitHostPort(addr)
		return info(ctx, c, "replication", "role") == "slave" &&
			info(ctx, c, "replication", "master_port") == port &&
			info(ctx, c, "replication", "master_link_status") == "up"
	}
	deadline := time.Now().Add(45 * time.Second)
	for !rejoined() {
		if time.Now().After(deadline) {
			for _, sp := range r.Sentinels {
				t.Logf("Sentinel %s:\n%s", sp.Addr(), sp.Log())
			}
			t.Fatalf("redistest: %s rejoins as a replica: not within 45s (role %q, master_port %q, link %q)", s.Addr(),
				info(ctx, c, "replication", "role"), info(ctx, c, "replication", "master_port"), info(ctx, c, "replication", "master_link_status"))
		}
		time.Sleep(20 * time.Millisecond) // poll interval, bounded by the deadline
	}
	r.WaitReplicated(t, 30*time.Second)
}

// caughtUp writes a marker on the server at addr and waits (WAIT) until n
// replicas have it: the replication stream is ordered, so they then have
// every earlier write too.
func caughtUp(ctx context.Context, addr string, n int) bool {
	c := goredis.NewClient(&goredis.Options{Addr: addr, MaxRetries: -1, DialTimeout: time.Second})
	defer c.Close()
	conn := c.Conn() // WAIT counts the writes of its own connection
	defer conn.Close()
	if err := conn.Incr(ctx, "redistest:sync").Err(); err != nil {
		return false
	}
	got, err := conn.Wait(ctx, n, 500*time.Millisecond).Result()
	return err == nil && got >= int64(n)
}

func startSentinel(t testing.TB, primaryPort int) *SentinelProc {
	t.Helper()
	dir := t.TempDir()
	s := &SentinelProc{t: t, conf: filepath.Join(dir, "sentinel.conf"), port: freePort(t)}
	// Sentinel rewrites its file as it learns the topology: the file must
	// be writable and is kept across a restart.
	conf := fmt.Sprintf(`port %d
bind 127.0.0.1
daemonize no
dir %s
loglevel notice
sentinel monitor %s 127.0.0.1 %d 2
sentinel down-after-milliseconds %s %d
sentinel failover-timeout %s %d
sentinel parallel-syncs %s 2
`, s.port, dir, MasterName, primaryPort, MasterName, SentinelDownAfter.Milliseconds(),
		MasterName, SentinelFailoverTimeout.Milliseconds(), MasterName)
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// Addr is host:port of the Sentinel.
func (s *SentinelProc) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Running reports whether the process runs.
func (s *SentinelProc) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Restart starts the Sentinel (again) with its config file and waits until
// it answers.
func (s *SentinelProc) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("redistest: sentinel is running")
	}
	cmd, out := startLogged(s.t, "redis-sentinel", s.conf)
	c := goredis.NewSentinelClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			s.t.Fatalf("redis-sentinel did not answer within 10s:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, bounded by the deadline
	}
	s.cmd, s.out = cmd, out
}

// Kill stops the Sentinel with SIGKILL.
func (s *SentinelProc) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Log is what the Sentinel wrote so far.
func (s *SentinelProc) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

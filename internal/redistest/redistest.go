// Package redistest starts private redis-server processes for tests: each on
// a free loopback port with its own data directory, append-only with an
// fsync per write, stopped when the test ends. It is a real server, not a
// stand-in: tests that need Redis fail in CI when redis-server is missing.
//
// Besides one server (Start) it starts the two shapes a town would run for
// high availability: a primary with replicas watched by three Sentinels
// (StartSentinel, sentinel.go) and a Redis Cluster (StartCluster,
// cluster.go).
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/internal/testtool"
)

// Server is one redis-server process that can be killed and started again
// on the same port and data.
type Server struct {
	t    testing.TB
	dir  string
	port int
	args []string // beyond the common ones (replicaof, cluster …)

	mu  sync.Mutex
	cmd *exec.Cmd
	out *syncBuilder
}

// freePort returns a loopback TCP port nobody listens on now.
func freePort(t testing.TB) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// Start starts a server for t. Without redis-server it fails the test in CI
// (CI=true) and skips it elsewhere, with a hint.
func Start(t testing.TB) *Server {
	t.Helper()
	return start(t)
}

func start(t testing.TB, args ...string) *Server {
	t.Helper()
	testtool.Need(t, "redis-server", "redis-server")
	s := &Server{t: t, dir: t.TempDir(), port: freePort(t), args: args}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// StartReplicaOf starts a server that replicates primary and waits until
// its link to the primary is up.
func StartReplicaOf(t testing.TB, primary *Server) *Server {
	t.Helper()
	r := start(t, "--replicaof", "127.0.0.1", fmt.Sprint(primary.port))
	r.WaitOnline(primary)
	return r
}

// WaitOnline waits until r, a replica of primary, confirms new writes: its
// link is up and a write made now is acknowledged (WAIT). "Link up" alone
// is not enough: after a full resync the primary may hold the stream back
// for up to a second (until the replica's first acknowledgement), and a
// WAIT meanwhile counts nobody.
func (r *Server) WaitOnline(primary *Server) {
	r.t.Helper()
	ctx := context.Background()
	rc := r.Client()
	waitFor(r.t, 20*time.Second, "replica in sync", func() bool {
		return info(ctx, rc, "replication", "master_link_status") == "up" && caughtUp(ctx, primary.Addr(), 1)
	})
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Running reports whether the process runs (it was not killed).
func (s *Server) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}

// Client is a plain client of this one server (not of a cluster), closed
// when the test ends.
func (s *Server) Client() *goredis.Client {
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1, DialTimeout: time.Second})
	s.t.Cleanup(func() { c.Close() })
	return c
}

// Restart starts the server (again) on its port and data directory and
// waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("redistest: server is running")
	}
	args := append([]string{"--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning",
		// A full resync starts at once instead of waiting 5 s for more
		// replicas to share the transfer.
		"--repl-diskless-sync-delay", "0"}, s.args...)
	cmd, out := startLogged(s.t, "redis-server", args...)
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			s.t.Fatalf("redis-server did not answer within 10s:\n%s", out)
		}
		time.Sleep(10 * time.Millisecond) // poll interval, bounded by the deadline
	}
	s.cmd, s.out = cmd, out
}

// Kill stops the server with SIGKILL, as a crash or power cut would: what
// it acknowledged must be in its append-only file.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return
	}
	s.cmd.Process.Kill()
	s.cmd.Wait()
	s.cmd = nil
}

// Freeze stops the process (SIGSTOP) without closing its connections: it
// neither answers nor resets, like a host that lost power or a cut cable.
// Thaw, Kill or the test's end undo it.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw lets a frozen server go on (SIGCONT).
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) signal(sig os.Signal) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.cmd.Process.Signal(sig)
	}
}

// Log is what the server wrote so far (warnings and worse).
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.out == nil {
		return ""
	}
	return s.out.String()
}

// startLogged starts a command whose output is collected.
func startLogged(t testing.TB, name string, args ...string) (*exec.Cmd, *syncBuilder) {
	t.Helper()
	cmd := exec.Command(name, args...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	out := &syncBuilder{}
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			out.WriteString(sc.Text() + "\n")
		}
	}()
	return cmd, out
}

// syncBuilder is a strings.Builder shared by a reader goroutine and the
// test.
type syncBuilder struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuilder) WriteString(v string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.b.WriteString(v)
}

func (s *syncBuilder) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// waitFor polls cond until it holds or within has passed, and fails the
// test with what on timeout.
func waitFor(t testing.TB, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("redistest: %s: not within %v", what, within)
		}
		time.Sleep(20 * time.Millisecond) // poll interval, bounded by the deadline
	}
}

// info reads one field of INFO section from a server ("" when it does not
// answer).
func info(ctx context.Context, c *goredis.Client, section, field string) string {
	text, err := c.Info(ctx, section).Result()
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(text, "\r\n") {
		if v, ok := strings.CutPrefix(line, field+":"); ok {
			return v
		}
	}
	return ""
}

// onlineReplicas counts the replicas a primary reports in state online
// (connected and past the initial sync).
func onlineReplicas(ctx context.Context, c *goredis.Client) int {
	text, err := c.Info(ctx, "replication").Result()
	if err != nil {
		return 0
	}
	n := 0
	for _, line := range strings.Split(text, "\r\n") {
		if strings.HasPrefix(line, "slave") && strings.Contains(line, "state=online") {
			n++
		}
	}
	return n
}

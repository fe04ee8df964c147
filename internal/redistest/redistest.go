// Package redistest starts private redis-server processes for tests: each on
// a free loopback port with its own data directory, append-only with an
// fsync per write, stopped when the test ends. It is a real server, not a
// stand-in: tests that need Redis fail in CI when redis-server is missing.
package redistest

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"os/exec"
	"strings"
	"sync"
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

	mu  sync.Mutex
	cmd *exec.Cmd
}

// Start starts a server for t. Without redis-server it fails the test in CI
// (CI=true) and skips it elsewhere, with a hint.
func Start(t testing.TB) *Server {
	t.Helper()
	testtool.Need(t, "redis-server", "redis-server")
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, dir: t.TempDir(), port: port}
	s.Restart()
	t.Cleanup(s.Kill)
	return s
}

// Addr is host:port of the server.
func (s *Server) Addr() string { return fmt.Sprintf("127.0.0.1:%d", s.port) }

// Restart starts the server (again) on its port and data directory and
// waits until it answers.
func (s *Server) Restart() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		s.t.Fatal("redistest: server is running")
	}
	cmd := exec.Command("redis-server", "--port", fmt.Sprint(s.port), "--bind", "127.0.0.1",
		"--dir", s.dir, "--appendonly", "yes", "--appendfsync", "always", "--save", "",
		"--daemonize", "no", "--protected-mode", "yes", "--loglevel", "warning")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		s.t.Fatal(err)
	}
	cmd.Stderr = cmd.Stdout
	if err := cmd.Start(); err != nil {
		s.t.Fatal(err)
	}
	out := &strings.Builder{}
	var outMu sync.Mutex
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			outMu.Lock()
			out.WriteString(sc.Text() + "\n")
			outMu.Unlock()
		}
	}()
	c := goredis.NewClient(&goredis.Options{Addr: s.Addr(), MaxRetries: -1})
	defer c.Close()
	deadline := time.Now().Add(10 * time.Second)
	for c.Ping(context.Background()).Err() != nil {
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			cmd.Wait()
			outMu.Lock()
			defer outMu.Unlock()
			s.t.Fatalf("redis-server did not answer within 10s:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond) // poll interval, bounded by the deadline
	}
	s.cmd = cmd
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

//go:build unix

package sqlite_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/sqlite"
)

// killHelperEnv, when set to a database path, turns TestKillDurability into
// the helper process that writes until it is killed.
const killHelperEnv = "ROAMGATE_SQLITE_KILL_HELPER"

// TestKillDurability checks the contract of Create: once it returns, the
// record survives kill -9. A helper process creates records and prints each
// ID after Create returns; it is killed with SIGKILL mid-stream, and every ID
// it printed must be in the database when it is opened again.
func TestKillDurability(t *testing.T) {
	if path := os.Getenv(killHelperEnv); path != "" {
		createUntilKilled(t, path)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	const killAfter = 400 // IDs printed before the kill
	path := filepath.Join(t.TempDir(), "sessions.db")

	h := testtool.StartHelper(t, "^TestKillDurability$", killHelperEnv+"="+path)

	var ids []string
	syncerPID := 0 // the helper's store's syncer process
	killed := false
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
read:
	for {
		select {
		case line, ok := <-h.Lines:
			if !ok {
				break read // the helper's stdout is closed: it is gone
			}
			if pid, found := strings.CutPrefix(line, "syncer "); found {
				syncerPID, _ = strconv.Atoi(pid)
				continue
			}
			id, found := strings.CutPrefix(line, "created ")
			if !found {
				continue // test framework chatter
			}
			ids = append(ids, id)
			if len(ids) == killAfter && !killed {
				h.Kill(t)
				killed = true
			}
		case <-deadline.C:
			t.Fatalf("helper printed %d IDs before the deadline, want %d; stderr:\n%s", len(ids), killAfter, h.Stderr.String())
		}
	}
	h.WaitKilled(t)
	if len(ids) < killAfter {
		t.Fatalf("got %d IDs, want at least %d", len(ids), killAfter)
	}
	// The syncer ends with the process it served: its input ends.
	if syncerPID == 0 {
		t.Fatal("the helper did not say its syncer's pid")
	}
	testtool.Eventually(t, 10*time.Second, "the killed helper's syncer ends", func() bool { return !testtool.ProcessRuns(syncerPID) })

	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("reopen after kill: %v", err)
	}
	defer s.Close()
	for _, id := range ids {
		if _, err := s.Get(context.Background(), id); err != nil {
			t.Errorf("session %s was acknowledged before the kill but is lost: %v", id, err)
		}
	}
	n := 0
	if err := s.Live(context.Background(), time.Now(), func(session.Record) error { n++; return nil }); err != nil {
		t.Fatal(err)
	}
	if n < len(ids) {
		t.Errorf("Live sees %d sessions after the kill, want at least %d", n, len(ids))
	}
	t.Logf("%d sessions acknowledged before SIGKILL, %d in the database after", len(ids), n)
}

// createUntilKilled is the helper process: create, print, repeat — from 16
// goroutines, so that the kill lands while group commits are in flight.
func createUntilKilled(t *testing.T, path string) {
	s, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("syncer %d\n", s.Syncer().PID)
	var wg sync.WaitGroup
	for range 16 {
		wg.Go(func() {
			for range 10_000 { // bounded in case the parent is gone
				r := newRecord(t)
				if err := s.Create(context.Background(), r); err != nil {
					t.Error(err)
					return
				}
				// os.Stdout is unbuffered and a short line is one atomic
				// pipe write: the line is out once Printf returns.
				fmt.Printf("created %s\n", r.ID)
			}
		})
	}
	wg.Wait()
	t.Error("helper was not killed")
}

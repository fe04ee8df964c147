//go:build unix

package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
)

func pragma(t *testing.T, s *Store, name string) int {
	t.Helper()
	var v int
	if err := s.w.QueryRowContext(context.Background(), `PRAGMA `+name).Scan(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// TestSyncerSyncsEveryDurableWrite: with its syncer, the writer neither
// syncs nor checkpoints (NORMAL, no automatic checkpoints), and every
// write a caller is told is durable — a sign-in, accounting, a revocation,
// the crisis switch — waits for the syncer's fsync of the WAL.
func TestSyncerSyncsEveryDurableWrite(t *testing.T) {
	s, r, now := storeWithSession(t)
	ctx := context.Background()
	pid := s.Syncer().PID
	if pid == 0 || !testtool.ProcessRuns(pid) || !s.Syncer().Running {
		t.Fatalf("syncer pid %d is not running", pid)
	}
	if got := pragma(t, s, "synchronous"); got != 1 {
		t.Errorf("writer synchronous = %d, want 1 (NORMAL)", got)
	}
	if got := pragma(t, s, "wal_autocheckpoint"); got != 0 {
		t.Errorf("writer wal_autocheckpoint = %d, want 0", got)
	}
	writes := []struct {
		name  string
		write func() error
	}{
		{"create", func() error { return s.Create(ctx, record(t, now)) }},
		{"touch", func() error {
			return s.Touch(ctx, r.ID, session.Activity{At: now.Add(time.Second), Location: "bahnhof", AP: "ap-2"}, 1, nil)
		}},
		{"touch many", func() error {
			errs := make([]error, 1)
			s.TouchMany(ctx, []session.Touch{{ID: r.ID, Roams: 2, Activity: session.Activity{At: now.Add(2 * time.Second), Location: "stadtpark", AP: "ap-3"}}}, errs)
			return errs[0]
		}},
		{"rebind", func() error { return s.Rebind(ctx, r.ID, session.MACKey(newID(t)), true, []byte("token")) }},
		{"crisis", func() error {
			return s.SaveCrisis(ctx, session.Crisis{Active: true, Message: map[string]string{"de": "m"}, By: "it"})
		}},
		{"admin generation", func() error { _, err := s.RaiseAdminGeneration(ctx, "admin"); return err }},
		{"revoke", func() error { return s.Revoke(ctx, r.ID) }},
	}
	for _, w := range writes {
		before := s.syncStats.syncs.Load()
		if err := w.write(); err != nil {
			t.Fatalf("%s: %v", w.name, err)
		}
		if after := s.syncStats.syncs.Load(); after <= before {
			t.Errorf("%s: the syncer synced %d times before and %d after", w.name, before, after)
		}
	}
	if inProcess := s.Syncer().InProcess; inProcess != 0 {
		t.Errorf("%d syncs in the store's process, want 0", inProcess)
	}
}

// TestSyncerCheckpoints: the syncer's checkpoint copies every frame of the
// WAL into the database file.
func TestSyncerCheckpoints(t *testing.T) {
	s, _, now := storeWithSession(t)
	for range 50 {
		if err := s.Create(context.Background(), record(t, now)); err != nil {
			t.Fatal(err)
		}
	}
	frames, done, err := s.checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if frames == 0 || done != frames {
		t.Fatalf("checkpoint: %d of %d frames in the database file, want all and some", done, frames)
	}
	if n := s.syncStats.checkpoints.Load(); n == 0 {
		t.Fatal("the checkpoint was not the syncer's")
	}
}

// TestSyncerCheckpointsOnAnIdleThread: the syncer's checkpoints run on a
// thread of its own with the SCHED_IDLE policy, its syncs do not, and an
// urgent checkpoint (checkpointNow) copies every frame too.
func TestSyncerCheckpointsOnAnIdleThread(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("SCHED_IDLE is Linux's")
	}
	s, _, now := storeWithSession(t)
	for _, kind := range []byte{checkpoint, checkpointNow} {
		for range 50 {
			if err := s.Create(context.Background(), record(t, now)); err != nil {
				t.Fatal(err)
			}
		}
		frames, done, err := s.checkpointOther(kind, "")
		if err != nil {
			t.Fatal(err)
		}
		if frames == 0 || done != frames {
			t.Fatalf("checkpoint %q: %d of %d frames in the database file, want all and some", kind, done, frames)
		}
	}
	policies := threadPolicies(t, s.Syncer().PID)
	const schedOther = 0
	if policies[schedIdle] != 1 || policies[schedOther] == 0 {
		t.Fatalf("the syncer's threads by policy: %v, want one SCHED_IDLE (%d), the others SCHED_OTHER (%d)", policies, schedIdle, schedOther)
	}
}

// threadPolicies counts the threads of process pid by scheduling policy
// (field 41 of /proc/pid/task/tid/stat, proc(5)).
func threadPolicies(t *testing.T, pid int) map[int]int {
	t.Helper()
	stats, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/stat", pid))
	if err != nil || len(stats) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	policies := map[int]int{}
	for _, path := range stats {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		// The command may hold spaces and parentheses; the fields after
		// its closing one begin with field 3.
		fields := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
		if len(fields) < 41-2 {
			t.Fatalf("%s: %d fields", path, len(fields)+2)
		}
		var policy int
		if _, err := fmt.Sscan(fields[41-3], &policy); err != nil {
			t.Fatalf("%s: policy %q: %v", path, fields[41-3], err)
		}
		policies[policy]++
	}
	return policies
}

// TestNextCheckpoint: a round of checkpoints that took longer than
// checkpointPatience makes the next one urgent, and only that.
func TestNextCheckpoint(t *testing.T) {
	for _, c := range []struct {
		took time.Duration
		want byte
	}{
		{0, checkpoint},
		{checkpointPatience, checkpoint},
		{checkpointPatience + time.Millisecond, checkpointNow},
	} {
		if got := nextCheckpoint(c.took); got != c.want {
			t.Errorf("after a round of %v: %q, want %q", c.took, got, c.want)
		}
	}
}

// TestSyncerGoneStoreCarriesOn: if the syncer dies, every write still
// succeeds, synced and checkpointed by the store itself, and counted.
func TestSyncerGoneStoreCarriesOn(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "sessions.db"))
	now := time.Now().UTC().Truncate(time.Millisecond)
	r := record(t, now)
	if err := s.Create(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	pid := s.Syncer().PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.syncer.read:
	case <-time.After(10 * time.Second):
		t.Fatal("the store did not notice its syncer's end")
	}
	ctx := context.Background()
	if err := s.Create(ctx, record(t, now)); err != nil {
		t.Fatalf("create without a syncer: %v", err)
	}
	if err := s.Revoke(ctx, r.ID); err != nil {
		t.Fatalf("revoke without a syncer: %v", err)
	}
	frames, done, err := s.checkpoint()
	if err != nil || done != frames {
		t.Fatalf("checkpoint without a syncer: %d of %d frames, %v", done, frames, err)
	}
	if st := s.Syncer(); st.InProcess < 3 || st.Running {
		t.Fatalf("after the syncer died: %+v, want 3 in the store's process and not running", st)
	}
	if err := s.Close(); err != nil {
		t.Fatalf("Close after the syncer died: %v", err)
	}
}

// TestSyncerEndsWithStore: Close ends the syncer process.
func TestSyncerEndsWithStore(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "sessions.db"))
	pid := s.Syncer().PID
	if pid == 0 || !testtool.ProcessRuns(pid) || !s.Syncer().Running {
		t.Fatalf("syncer pid %d is not running", pid)
	}
	// ps names it after the program and what it is.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && !strings.HasSuffix(strings.TrimRight(string(cmdline), "\x00"), " [sqlite syncer]") {
		t.Errorf("the syncer's command line is %q, want it to end in \" [sqlite syncer]\"", cmdline)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	testtool.Eventually(t, 10*time.Second, "the syncer ends", func() bool { return !testtool.ProcessRuns(pid) })
}

// TestWithoutSyncerWritesFull: a store whose syncer could not start
// commits with synchronous=FULL and automatic checkpoints, as before
// there was a syncer.
func TestWithoutSyncerWritesFull(t *testing.T) {
	s, err := open(context.Background(), filepath.Join(t.TempDir(), "sessions.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if pid := s.Syncer().PID; pid != 0 {
		t.Fatalf("syncer pid %d, want none", pid)
	}
	if got := pragma(t, s, "synchronous"); got != 2 {
		t.Errorf("writer synchronous = %d, want 2 (FULL)", got)
	}
	if got := pragma(t, s, "wal_autocheckpoint"); got != 1000 {
		t.Errorf("writer wal_autocheckpoint = %d, want 1000", got)
	}
	if err := s.Create(context.Background(), record(t, time.Now())); err != nil {
		t.Fatal(err)
	}
}

// TestSyncerCheckpointsAnother: the syncer checkpoints another database
// the store was given (the history), and the store does if the syncer is
// gone; a store without a syncer says it cannot.
func TestSyncerCheckpointsAnother(t *testing.T) {
	s := openInternal(t, filepath.Join(t.TempDir(), "sessions.db"))
	defer s.Close()
	other := filepath.Join(t.TempDir(), "history.db")
	db, err := sql.Open("sqlite", dsn(other, url.Values{"_pragma": {"journal_mode(WAL)", "wal_autocheckpoint(0)"}}))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	write := func() {
		t.Helper()
		for _, q := range []string{`CREATE TABLE IF NOT EXISTS t (x BLOB)`, `INSERT INTO t VALUES (randomblob(10000))`} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
	}
	write()
	if err := s.CheckpointAlso(other); err != nil {
		t.Fatal(err)
	}
	frames, done, err := s.checkpointOther(checkpoint, other)
	if err != nil || frames == 0 || done != frames {
		t.Fatalf("the syncer's checkpoint of another database: %d of %d frames, %v", done, frames, err)
	}
	if n := s.syncStats.checkpoints.Load(); n != 1 {
		t.Fatalf("%d checkpoints by the syncer, want 1", n)
	}
	if err := syscall.Kill(s.Syncer().PID, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	select {
	case <-s.syncer.read:
	case <-time.After(10 * time.Second):
		t.Fatal("the store did not notice its syncer's end")
	}
	write()
	frames, done, err = s.checkpointOther(checkpoint, other)
	if err != nil || done != frames || s.Syncer().InProcess != 1 {
		t.Fatalf("the store's own checkpoint of another database: %d of %d frames, %v, %+v", done, frames, err, s.Syncer())
	}

	without, err := open(context.Background(), filepath.Join(t.TempDir(), "sessions.db"), false)
	if err != nil {
		t.Fatal(err)
	}
	defer without.Close()
	if err := without.CheckpointAlso(other); err == nil {
		t.Fatal("a store without a syncer took a checkpoint on")
	}
}

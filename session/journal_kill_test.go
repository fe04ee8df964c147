//go:build unix

package session_test

import (
	"context"
	"fmt"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/sessiontest"
	"roamgate/session/sqlite"
)

// journalKillEnv, when set to a data directory, turns
// TestJournalMovesSurviveKill into the helper process that moves sessions
// until it is killed.
const journalKillEnv = "ROAMGATE_JOURNAL_KILL_HELPER"

// TestJournalMovesSurviveKill checks the promise of the move journal: a
// move SeenDurable returned for, and a move of Seen once the background
// writer has written it, survive kill -9. The helper prints each move
// once it is durable ("moved <id> <n>", n growing); after the kill every
// session must be where its last printed move (or a later one) put it.
func TestJournalMovesSurviveKill(t *testing.T) {
	if dir := os.Getenv(journalKillEnv); dir != "" {
		moveUntilKilled(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("starts a subprocess")
	}
	const killAfter = 3000 // moves printed before the kill
	dir := t.TempDir()
	h := testtool.StartHelper(t, "^TestJournalMovesSurviveKill$", journalKillEnv+"="+dir)

	last := map[string]int{} // session → its last move printed
	moves, syncerPID, killed := 0, 0, false
	deadline := time.NewTimer(2 * time.Minute)
	defer deadline.Stop()
read:
	for {
		select {
		case line, ok := <-h.Lines:
			if !ok {
				break read
			}
			f := strings.Fields(line)
			switch {
			case len(f) == 2 && f[0] == "syncer":
				syncerPID, _ = strconv.Atoi(f[1])
			case len(f) == 3 && f[0] == "moved":
				n, err := strconv.Atoi(f[2])
				if err != nil {
					t.Fatalf("helper printed %q", line)
				}
				last[f[1]] = max(last[f[1]], n)
				if moves++; moves == killAfter && !killed {
					h.Kill(t)
					killed = true
				}
			}
		case <-deadline.C:
			t.Fatalf("helper printed %d moves before the deadline, want %d; stderr:\n%s", moves, killAfter, h.Stderr.String())
		}
	}
	h.WaitKilled(t)
	if syncerPID == 0 {
		t.Fatal("the helper did not say its syncer's pid")
	}
	testtool.Eventually(t, 10*time.Second, "the killed helper's syncer ends", func() bool { return !testtool.ProcessRuns(syncerPID) })
	if len(journalFiles(t, dir)) == 0 {
		t.Fatal("the killed helper left no journal: the moves did not go through it")
	}

	site, err := sessiontest.Open(sessiontest.Options{Dir: dir})
	if err != nil {
		t.Fatalf("restart after kill: %v", err)
	}
	defer site.Close()
	if site.Report.Journaled == 0 {
		t.Fatal("the restart replayed no session from the journal")
	}
	lost := 0
	for id, n := range last {
		s, err := site.ByID(id)
		got, _ := strconv.Atoi(strings.TrimPrefix(s.CurrentLocation, "loc-"))
		if err != nil || got < n {
			if lost++; lost <= 5 {
				t.Errorf("session %s: move %d was durable before the kill, the restart has %q (%v)", id, n, s.CurrentLocation, err)
			}
		}
	}
	if lost > 0 {
		t.Fatalf("%d of %d sessions lost durable moves", lost, len(last))
	}
	t.Logf("%d moves of %d sessions durable before SIGKILL; %d sessions restored from the journal", moves, len(last), site.Report.Journaled)
}

// moveUntilKilled is the helper process: sessions signed in, then moved
// to loc-<n> for a growing n, half of the rounds with SeenDurable (from
// several goroutines, which share its syncs), half with Seen and a wait
// for the background writer.
func moveUntilKilled(t *testing.T, dir string) {
	site, err := sessiontest.Open(sessiontest.Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	fmt.Printf("syncer %d\n", site.Store.(*sqlite.Store).Syncer().PID)
	const sessions = 64
	ids := make([]string, sessions)
	for i := range ids {
		mac, err := session.ParseMAC(fmt.Sprintf("02-00-00-00-0d-%02x", i))
		if err != nil {
			t.Fatal(err)
		}
		s, _, err := site.Create(context.Background(), session.CreateRequest{MAC: mac, HasMAC: true, Network: "wifi4eu", Location: "loc-0"})
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = s.ID
	}
	n := 0
	for round := range 2000 { // bounded in case the parent is gone
		if round%2 == 0 {
			done := make(chan struct{})
			for g := range 8 {
				go func() {
					defer func() { done <- struct{}{} }()
					for i := g; i < sessions; i += 8 {
						loc := fmt.Sprintf("loc-%d", n+1+i)
						if _, err := site.SeenDurable(context.Background(), ids[i], session.Activity{Location: loc}); err != nil {
							t.Error(err)
							return
						}
						// os.Stdout is unbuffered and a short line is one
						// atomic pipe write: out once Printf returns.
						fmt.Printf("moved %s %d\n", ids[i], n+1+i)
					}
				}()
			}
			for range 8 {
				<-done
			}
		} else {
			before := site.Counters().ActivityWritten
			for i, id := range ids {
				if _, err := site.Seen(id, session.Activity{Location: fmt.Sprintf("loc-%d", n+1+i)}); err != nil {
					t.Fatal(err)
				}
			}
			for c := site.Counters(); c.ActivityPending != 0 || c.ActivityWritten < before+sessions; c = site.Counters() {
				time.Sleep(time.Millisecond)
			}
			for i, id := range ids {
				fmt.Printf("moved %s %d\n", id, n+1+i)
			}
		}
		n += sessions
	}
	t.Error("helper was not killed")
}

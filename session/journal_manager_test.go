package session_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
)

// journalFiles lists the move journal's files in dir.
func journalFiles(t *testing.T, dir string) []string {
	t.Helper()
	names, err := filepath.Glob(filepath.Join(dir, "moves-*.journal"))
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// waitWritten waits until the manager's background writer has written
// every pending session (to the journal, with the harness's store).
func waitWritten(t *testing.T, m *session.Manager, written uint64) {
	t.Helper()
	testtool.Eventually(t, 5*time.Second, "the moves are written", func() bool {
		c := m.Counters()
		return c.ActivityPending == 0 && c.ActivityWritten >= written
	})
}

// TestJournalCheckpointWritesTheStore: a move is durable in the journal,
// not yet in the store; a checkpoint gives the store every journaled move
// and removes the files it wrote.
func TestJournalCheckpointWritesTheStore(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	s, _ := h.create(t, "da:a1:19:00:0d:01", "wifi4eu", "bahnhof")
	ctx := context.Background()
	for _, loc := range []string{"stadtpark", "rathaus", "brueckerfeld"} {
		if _, err := h.m.Seen(s.ID, session.Activity{Location: loc, InputOctets: 7}); err != nil {
			t.Fatal(err)
		}
	}
	waitWritten(t, h.m, 1)
	if c := h.m.Counters(); c.JournalFiles != 1 {
		t.Fatalf("JournalFiles = %d after a move, want 1", c.JournalFiles)
	}
	if r, err := h.store.Get(ctx, s.ID); err != nil || r.CurrentLocation != "bahnhof" {
		t.Fatalf("the store has %q (%v) before a checkpoint; want the sign-in's bahnhof: the move went to the store, not the journal",
			r.CurrentLocation, err)
	}
	if err := h.m.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	r, err := h.store.Get(ctx, s.ID)
	if err != nil || r.CurrentLocation != "brueckerfeld" || r.Roams != 3 || r.InputOctets != 7 {
		t.Fatalf("after the checkpoint the store has %+v (%v), want brueckerfeld, 3 roams, 7 octets", r.Session, err)
	}
	c := h.m.Counters()
	if c.JournalFiles != 0 || c.Checkpoints != 1 || c.CheckpointedSessions != 1 {
		t.Fatalf("counters after the checkpoint: %+v", c)
	}
	// The written file is gone; only the empty file being written is left.
	if files := journalFiles(t, h.dir); len(files) != 1 {
		t.Fatalf("journal files after the checkpoint: %v, want only the current one", files)
	}
}

// TestJournalCloseLeavesTheStoreWhole: a stopped gateway's database holds
// every move (for a backup of it, or another version), and no journal
// file is left.
func TestJournalCloseLeavesTheStoreWhole(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	s, _ := h.create(t, "da:a1:19:00:0d:02", "wifi4eu", "bahnhof")
	if _, err := h.m.Seen(s.ID, session.Activity{Location: "stadtpark", OutputOctets: 9}); err != nil {
		t.Fatal(err)
	}
	h.stop(t)
	if files := journalFiles(t, h.dir); len(files) != 0 {
		t.Fatalf("journal files after close: %v", files)
	}
	if rep := h.start(t); rep.Journaled != 0 {
		t.Fatalf("restart replayed %d sessions from a journal close should have emptied", rep.Journaled)
	}
	r, err := h.store.Get(context.Background(), s.ID)
	if err != nil || r.CurrentLocation != "stadtpark" || r.OutputOctets != 9 || r.Roams != 1 {
		t.Fatalf("store after close: %+v (%v)", r.Session, err)
	}
}

// TestJournalKeepsMovesWhileTheStoreIsAway: with the journal, a store
// that fails costs the moves nothing; the checkpoint fails, keeps its
// file, and writes it once the store is back.
func TestJournalKeepsMovesWhileTheStoreIsAway(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	fs := &touchFailing{}
	h.wrap = func(s session.Store) session.Store { fs.Store = s; return fs }
	h.restart(t)
	s, _ := h.create(t, "da:a1:19:00:0d:03", "wifi4eu", "bahnhof")
	ctx := context.Background()
	fs.down.Store(true)
	if _, err := h.m.SeenDurable(ctx, s.ID, session.Activity{Location: "rathaus", InputOctets: 20}); err != nil {
		t.Fatalf("SeenDurable with the journal while the store is away: %v", err)
	}
	if err := h.m.Checkpoint(ctx); err == nil {
		t.Fatal("a checkpoint into a failing store said nil")
	}
	if c := h.m.Counters(); c.CheckpointFailures != 1 || c.JournalFiles != 1 || c.ActivityBuffered != 0 {
		t.Fatalf("counters after the failed checkpoint: %+v", c)
	}
	fs.down.Store(false)
	if err := h.m.Checkpoint(ctx); err != nil {
		t.Fatalf("checkpoint with the store back: %v", err)
	}
	if r, err := h.store.Get(ctx, s.ID); err != nil || r.CurrentLocation != "rathaus" || r.InputOctets != 20 {
		t.Fatalf("store after the second checkpoint: %+v (%v)", r.Session, err)
	}
}

// TestJournalReplaysOverTheStore: journal files a crash left are applied
// at start-up, oldest first, up to a torn record: the session is as the
// last whole record left it, the store gets it at the first checkpoint,
// and the damage is counted.
func TestJournalReplaysOverTheStore(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	s, _ := h.create(t, "da:a1:19:00:0d:04", "wifi4eu", "bahnhof")
	other, _ := h.create(t, "da:a1:19:00:0d:05", "wifi4eu", "bahnhof")
	h.stop(t)
	at := h.clock.Now().Add(time.Minute)
	touch := func(id, loc string, roams int, in uint64) session.Touch {
		return session.Touch{ID: id, Roams: roams, Activity: session.Activity{At: at, Location: loc, AP: "ap-" + loc, InputOctets: in}}
	}
	older, err := session.JournalFile(touch(s.ID, "stadtpark", 1, 100), touch(other.ID, "rathaus", 1, 5))
	if err != nil {
		t.Fatal(err)
	}
	newer, err := session.JournalFile(touch(s.ID, "rathaus", 2, 0), touch(s.ID, "brueckerfeld", 3, 0),
		touch("0123456789abcdef0123456789abcdef", "nowhere", 1, 1)) // a session that is gone
	if err != nil {
		t.Fatal(err)
	}
	torn, err := session.JournalFile(touch(s.ID, "torn", 4, 0))
	if err != nil {
		t.Fatal(err)
	}
	newer = append(newer, torn[len(torn)-10:]...) // the end of a record whose start was never written
	for seq, data := range map[uint64][]byte{7: older, 9: newer} {
		if err := os.WriteFile(filepath.Join(h.dir, session.JournalName(seq)), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	rep := h.start(t)
	if rep.Journaled != 2 {
		t.Fatalf("LoadReport.Journaled = %d, want 2", rep.Journaled)
	}
	got, err := h.m.ByID(s.ID)
	if err != nil || got.CurrentLocation != "brueckerfeld" || got.Roams != 3 || got.InputOctets != 100 {
		t.Fatalf("after replay: %+v (%v); want brueckerfeld, 3 roams, the older file's 100 octets (0 keeps them)", got, err)
	}
	if got, _ := h.m.ByID(other.ID); got.CurrentLocation != "rathaus" {
		t.Fatalf("the other session after replay: %+v", got)
	}
	// The first checkpoint runs soon after a start that replayed.
	testtool.Eventually(t, 10*time.Second, "the replayed files are written to the store", func() bool {
		return h.m.Counters().JournalFiles == 0
	})
	if c := h.m.Counters(); c.JournalDamaged != 2 { // at start-up, and when the checkpoint read it
		t.Errorf("JournalDamaged = %d, want 2", c.JournalDamaged)
	}
	r, err := h.store.Get(context.Background(), s.ID)
	if err != nil || r.CurrentLocation != "brueckerfeld" || r.InputOctets != 100 {
		t.Fatalf("store after the checkpoint: %+v (%v)", r.Session, err)
	}
	for _, f := range journalFiles(t, h.dir) {
		if strings.Contains(f, session.JournalName(7)) || strings.Contains(f, session.JournalName(9)) {
			t.Errorf("%s was written to the store but not removed", f)
		}
	}
}

// touchBlocking holds every Touch until release is closed, and says when
// the first one arrived.
type touchBlocking struct {
	session.Store
	entered chan struct{}
	release chan struct{}
}

func (b *touchBlocking) Touch(ctx context.Context, id string, a session.Activity, roams int, dev []byte) error {
	select {
	case b.entered <- struct{}{}:
	default:
	}
	<-b.release
	return b.Store.Touch(ctx, id, a, roams, dev)
}

// TestJournalCheckpointDueWhileItRuns: a harness that waits for the
// store's writes (make bench-radius) sees a running checkpoint.
func TestJournalCheckpointDueWhileItRuns(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	tb := &touchBlocking{entered: make(chan struct{}, 1), release: make(chan struct{})}
	h.wrap = func(s session.Store) session.Store { tb.Store = s; return tb }
	h.restart(t)
	s, _ := h.create(t, "da:a1:19:00:0d:06", "wifi4eu", "bahnhof")
	if _, err := h.m.Seen(s.ID, session.Activity{Location: "stadtpark"}); err != nil {
		t.Fatal(err)
	}
	waitWritten(t, h.m, 1)
	if h.m.Counters().CheckpointDue {
		t.Fatal("CheckpointDue before any checkpoint")
	}
	done := make(chan error, 1)
	go func() { done <- h.m.Checkpoint(context.Background()) }()
	select {
	case <-tb.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the checkpoint did not reach the store")
	}
	due := h.m.Counters().CheckpointDue
	close(tb.release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if !due {
		t.Error("CheckpointDue false while the checkpoint wrote")
	}
	if c := h.m.Counters(); c.CheckpointDue || c.JournalFiles != 0 {
		t.Errorf("after the checkpoint: due %v, %d journal files", c.CheckpointDue, c.JournalFiles)
	}
}

package session

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// readJournal merges the files a previous run left in the journal, for
// load to apply over the store's records (see journal.go).
func (m *Manager) readJournal() *journalTouches {
	jt := &journalTouches{}
	for _, seq := range m.journal.sealedFiles() {
		ignored, why, err := m.journal.read(seq, jt.add)
		if err != nil {
			// Its moves stay lost until the file can be read: the next
			// checkpoint tries again and keeps the file meanwhile.
			m.log.Error("session: journal file unreadable; its moves are not restored", "file", journalName(seq), "err", err)
			m.counters.journalDamaged.Add(1)
			continue
		}
		m.noteIgnored(seq, ignored, why)
	}
	return jt
}

// noteIgnored logs and counts bytes at the end of a journal file that were
// not records: a write cut short by a crash (never acknowledged) or damage.
func (m *Manager) noteIgnored(seq uint64, ignored int, why error) {
	if ignored == 0 {
		return
	}
	m.counters.journalDamaged.Add(1)
	m.log.Warn("session: journal file ends in bytes that are not a record; replayed up to them",
		"file", journalName(seq), "bytes", ignored, "reason", why)
}

// checkpointLoop hands the journal's moves to the store every
// checkpointEvery, or sooner when a file grew large.
func (m *Manager) checkpointLoop() {
	t := time.NewTicker(checkpointEvery)
	defer t.Stop()
	for {
		select {
		case <-t.C:
		case <-m.journal.full:
		case <-m.stopped.Done():
			return
		}
		if err := m.Checkpoint(m.stopped); err != nil && m.stopped.Err() == nil {
			m.log.Warn("session: journal checkpoint failed; its files are kept and written at the next", "err", err)
		}
	}
}

// Checkpoint gives the store every move in the journal and removes the
// journal files it wrote; the store alone then holds them. Without a
// journal it does nothing. The manager checkpoints by itself (every
// checkpointEvery and when it closes); a caller may ask for one sooner.
func (m *Manager) Checkpoint(ctx context.Context) error { return m.checkpoint(ctx, true) }

// checkpoint is Checkpoint; paced, it rests between chunks (writeTouches).
func (m *Manager) checkpoint(ctx context.Context, paced bool) error {
	j := m.journal
	if j == nil {
		return nil
	}
	m.checkpointMu.Lock()
	defer m.checkpointMu.Unlock()
	m.checkpointing.Store(true)
	defer m.checkpointing.Store(false)
	start := time.Now()
	// A file that cannot be rotated now is written at the next checkpoint.
	rotateErr := j.rotate()
	written := 0
	files := j.sealedFiles()
	if len(files) == 0 {
		return rotateErr // nothing moved since the last
	}
	for _, seq := range files {
		// Decoding a file of journalMaxBytes takes ~0.5 s of CPU: in
		// turns, as the other background writers (turn.go).
		var jt journalTouches
		n := 0
		BackgroundTurn()
		ignored, why, err := j.read(seq, func(t Touch) {
			jt.add(t)
			if n++; n%256 == 0 {
				BackgroundDone()
				BackgroundTurn()
			}
		})
		BackgroundDone()
		if err != nil {
			m.counters.checkpointFailed.Add(1)
			return err
		}
		m.noteIgnored(seq, ignored, why)
		// Oldest file first, and stop at a failure: a newer file's values
		// must never be overwritten by an older one's.
		if err := m.writeTouches(ctx, jt.touches, paced); err != nil {
			m.counters.checkpointFailed.Add(1)
			return fmt.Errorf("session: journal checkpoint: %w", err)
		}
		if err := j.remove(seq); err != nil {
			m.counters.checkpointFailed.Add(1)
			return err
		}
		written += len(jt.touches)
	}
	m.counters.checkpoints.Add(1)
	m.counters.checkpointed.Add(uint64(written))
	if written > 0 {
		m.log.Debug("session: journal checkpoint", "sessions", written, "took", time.Since(start))
	}
	return rotateErr
}

// writeTouches gives the store touches in chunks, and returns the first
// failure; a session gone since (ErrNotFound) is not one.
//
// After each chunk it rests three times as long as the chunk took, so
// that a checkpoint takes at most about a quarter of a core: it is not
// urgent (the journal has the moves), and a large one — every session of
// a million moved in the window, ~50 µs each with the store's fold — ran
// the core at 100 % with a rest of flushPause per chunk, and the RADIUS
// answers' p99 to 130 ms (make bench-radius, 1 000 000 sessions, a
// checkpoint started by the journal's size during the fixed-rate pass,
// docs/BENCHMARKS.md). A million sessions then take ~200 s, within
// checkpointEvery. At close nothing else waits for the core: unpaced.
func (m *Manager) writeTouches(ctx context.Context, touches []Touch, paced bool) error {
	bt, many := m.store.(BatchToucher)
	errs := make([]error, flushChunk)
	for len(touches) > 0 {
		chunk := touches[:min(len(touches), flushChunk)]
		touches = touches[len(chunk):]
		began := time.Now()
		cctx, cancel := context.WithTimeout(ctx, touchTimeout)
		if many {
			clear(errs)
			bt.TouchMany(cctx, chunk, errs[:len(chunk)])
		} else {
			for i, t := range chunk {
				errs[i] = m.store.Touch(cctx, t.ID, t.Activity, t.Roams, t.SealedDevice)
			}
		}
		cancel()
		for _, err := range errs[:len(chunk)] {
			if err != nil && !errors.Is(err, ErrNotFound) {
				m.storeResult(err)
				return err
			}
		}
		if paced && len(touches) > 0 {
			rest := time.NewTimer(max(flushPause, min(3*time.Since(began), maxCheckpointRest)))
			select {
			case <-rest.C:
			case <-ctx.Done():
				rest.Stop()
				return ctx.Err()
			}
		}
	}
	return nil
}

// maxCheckpointRest bounds a rest of writeTouches: a chunk that waited
// long for the disk (its fsync) took little CPU.
const maxCheckpointRest = 20 * time.Millisecond

// closeJournal gives the store the journal's moves at close, so that a
// stopped gateway's database is whole (a backup of it, another version
// of roamgate); if the store fails, the files stay and the next start
// replays them.
func (m *Manager) closeJournal() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.checkpoint(ctx, false); err != nil {
		m.log.Warn("session: journal checkpoint at close failed; the next start replays the journal", "err", err)
	}
	if err := m.journal.close(); err != nil {
		m.log.Warn("session: journal close", "err", err)
	}
}

// journalTouch makes one touch durable in the journal.
func (m *Manager) journalTouch(t Touch) error {
	rec, err := appendJournalRecord(nil, t)
	if err != nil {
		return err
	}
	pos, err := m.journal.write(rec)
	if err != nil {
		return err
	}
	return m.journal.syncTo(pos)
}

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
func (m *Manager) Checkpoint(ctx context.Context) error {
	j := m.journal
	if j == nil {
		return nil
	}
	m.checkpointMu.Lock()
	defer m.checkpointMu.Unlock()
	start := time.Now()
	// A file that cannot be rotated now is written at the next checkpoint.
	rotateErr := j.rotate()
	written := 0
	for _, seq := range j.sealedFiles() {
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
		if err := m.writeTouches(ctx, jt.touches); err != nil {
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

// writeTouches gives the store touches, in chunks with a rest after each
// (as flush did before the journal: the store's group commits take
// turns themselves), and returns the first
// failure; a session gone since (ErrNotFound) is not one.
func (m *Manager) writeTouches(ctx context.Context, touches []Touch) error {
	bt, many := m.store.(BatchToucher)
	errs := make([]error, flushChunk)
	for len(touches) > 0 {
		chunk := touches[:min(len(touches), flushChunk)]
		touches = touches[len(chunk):]
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
		if len(touches) > 0 {
			time.Sleep(flushPause)
		}
	}
	return nil
}

// closeJournal gives the store the journal's moves at close, so that a
// stopped gateway's database is whole (a backup of it, another version
// of roamgate); if the store fails, the files stay and the next start
// replays them.
func (m *Manager) closeJournal() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := m.Checkpoint(ctx); err != nil {
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

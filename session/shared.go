package session

import (
	"context"
	"errors"
	"sync"
	"time"
)

// watch follows a shared store's changes (see Notifier) until ctx ends. The
// first subscription closes ready (NewManager loads the store only then, so
// nothing falls between the load and the feed); every later one re-reads the
// store, since changes may have been missed while it was down.
func (m *Manager) watch(ctx context.Context, n Notifier, ready chan<- struct{}) {
	refetch := make(chan string, maxRefetch)
	var wg sync.WaitGroup
	wg.Go(func() { m.refetchLoop(ctx, refetch) })
	defer wg.Wait()
	apply := func(c Change) { m.applyChange(c, refetch) }
	first := true
	subscribed := func() {
		if first {
			first = false
			close(ready)
			return
		}
		// A failover may still be settling (a cluster's slot map): retry
		// for a while rather than stay behind until the next interruption.
		backoff := 100 * time.Millisecond
		for deadline := time.Now().Add(resyncPatience); ; {
			err := m.resync(ctx)
			if err == nil || ctx.Err() != nil {
				break
			}
			if time.Now().After(deadline) {
				m.log.Warn("session: resync failed; the index follows the feed only until it is interrupted again", "err", err)
				break
			}
			m.log.Warn("session: resync failed, retrying", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(backoff):
			}
			backoff = min(2*backoff, 2*time.Second)
		}
		m.reloadCrisis() // a crisis change may have been missed too
	}
	for ctx.Err() == nil {
		err := n.Watch(ctx, apply, subscribed)
		if err != nil && ctx.Err() == nil {
			m.log.Warn("session: change feed", "err", err)
			select {
			case <-ctx.Done():
			case <-time.After(time.Second): // back off before subscribing again
			}
		}
	}
}

// applyChange brings the index in line with a change another gateway (or
// this one) made. Changes this gateway made are already in its index. An
// announced record that cannot be read now goes to refetch.
func (m *Manager) applyChange(c Change, refetch chan<- string) {
	if c.Kind == ChangeCrisis {
		m.reloadCrisis()
		return
	}
	switch c.Kind {
	case ChangeRevoked:
		if s, ended := m.index.revoke(c.ID); ended {
			m.ended(s, EndRevoked)
		}
	case ChangeCreated, ChangeRebound:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := m.store.Get(ctx, c.ID)
		if errors.Is(err, ErrNotFound) {
			m.log.Warn("session: announced session not in the store", "session", c.ID)
			return
		}
		if err != nil {
			// The store is failing over (on a cluster, this gateway's
			// slot map may still name the failed node): read it again
			// soon rather than never — the feed itself was not
			// interrupted, so no resync would find it.
			select {
			case refetch <- c.ID:
			default:
				m.log.Warn("session: fetch announced session; too many waiting, dropped", "session", c.ID, "err", err)
			}
			return
		}
		m.applyRecord(r)
	}
}

// applyRecord indexes an announced record unless the index has it already.
func (m *Manager) applyRecord(r Record) {
	if cur := m.index.byID(r.ID); cur != nil && cur.s.MACKey == r.MACKey {
		return // ours, or already applied
	}
	m.adopt(r)
}

// maxRefetch bounds the announced sessions that wait to be read again.
const maxRefetch = 10_000

// refetchLoop reads again, every quarter second for up to resyncPatience,
// the announced sessions the store could not give when they were
// announced.
func (m *Manager) refetchLoop(ctx context.Context, ids <-chan string) {
	type waiting struct {
		id     string
		giveUp time.Time
	}
	var queue []waiting
	t := time.NewTicker(250 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-ids:
			queue = append(queue, waiting{id, time.Now().Add(resyncPatience)})
			continue
		case <-t.C:
		}
		keep := queue[:0]
		for _, w := range queue {
			gctx, cancel := context.WithTimeout(ctx, 2*time.Second)
			r, err := m.store.Get(gctx, w.id)
			cancel()
			switch {
			case err == nil:
				m.applyRecord(r)
			case errors.Is(err, ErrNotFound), ctx.Err() != nil:
			case time.Now().After(w.giveUp):
				m.log.Warn("session: fetch announced session; gave up", "session", w.id, "err", err)
			default:
				keep = append(keep, w)
			}
		}
		queue = keep
	}
}

// adopt indexes a record read from the store after verifying it like
// NewManager does; presence this gateway already knows is kept.
func (m *Manager) adopt(r Record) bool {
	exp, _, err := m.verifyRecord(r)
	if err != nil {
		m.log.Warn("session: shared session refused", "session", r.ID, "err", err)
		return false
	}
	dev, seen, err := m.openDevice(r)
	if err != nil {
		m.log.Warn("session: shared device refused", "session", r.ID, "err", err)
	}
	r.Session.Device, r.Session.LastSeen = dev, seen
	if cur := m.index.byID(r.ID); cur != nil {
		r.Session.CurrentLocation, r.Session.AP, r.Session.NAS = cur.s.CurrentLocation, cur.s.AP, cur.s.NAS
		if cur.s.LastSeen.After(r.Session.LastSeen) {
			r.Session.LastSeen = cur.s.LastSeen
		}
	}
	m.index.replace(&entry{s: r.Session, exp: exp})
	return true
}

// resyncPatience bounds how long a resync is retried after the feed came
// back.
const resyncPatience = 30 * time.Second

// resync re-reads the store after the change feed was interrupted. It
// adopts the sessions it missed, and it takes over what went the other
// way: a session the index holds as live that the store no longer lists is
// looked up, and is revoked here if it was revoked there, or dropped if it
// is gone (deleted after its revocation, or lost with a primary that failed
// before any replica had it — never acknowledged, then). Afterwards every
// gateway has the same sessions as the store.
func (m *Manager) resync(ctx context.Context) error {
	start := m.now()
	var mu sync.Mutex // in case a store calls fn concurrently
	seen := map[string]struct{}{}
	adopted := 0
	err := m.store.Live(ctx, start, func(r Record) error {
		mu.Lock()
		defer mu.Unlock()
		if cur := m.index.byID(r.ID); cur == nil || cur.s.MACKey != r.MACKey {
			if m.adopt(r) {
				adopted++
			}
		}
		if cur := m.index.byID(r.ID); cur != nil {
			seen[cur.s.ID] = struct{}{} // the index's copy of the ID: no new string kept
		}
		return nil
	})
	if err != nil {
		return err
	}
	var unlisted []string
	m.index.each(func(e *entry) {
		if _, ok := seen[e.s.ID]; !ok && !e.s.Revoked && start.Before(e.exp) {
			unlisted = append(unlisted, e.s.ID)
		}
	})
	gone := map[string]struct{}{}
	revoked := 0
	for _, id := range unlisted {
		// Created here while the scan ran, or changed meanwhile: the
		// record itself decides.
		r, err := m.store.Get(ctx, id)
		switch {
		case errors.Is(err, ErrNotFound):
			gone[id] = struct{}{}
		case err != nil:
			return err
		case r.Revoked:
			if s, ended := m.index.revoke(id); ended {
				m.ended(s, EndRevoked)
			}
			revoked++
		}
	}
	if len(gone) > 0 {
		m.index.drop(func(e *entry) bool { _, g := gone[e.s.ID]; return g }, nil)
	}
	m.counters.feedResyncs.Add(1)
	m.log.Info("session: change feed restored", "adopted", adopted, "revoked", revoked, "gone", len(gone))
	return nil
}

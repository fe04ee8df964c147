package session

import (
	"context"
	"time"
)

// watch follows a shared store's changes (see Notifier) until ctx ends. The
// first subscription closes ready (NewManager loads the store only then, so
// nothing falls between the load and the feed); every later one re-reads the
// store, since changes may have been missed while it was down.
func (m *Manager) watch(ctx context.Context, n Notifier, ready chan<- struct{}) {
	first := true
	subscribed := func() {
		if first {
			first = false
			close(ready)
			return
		}
		m.resync(ctx)
		m.reloadCrisis() // a crisis change may have been missed too
	}
	for ctx.Err() == nil {
		err := n.Watch(ctx, m.applyChange, subscribed)
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
// this one) made. Changes this gateway made are already in its index.
func (m *Manager) applyChange(c Change) {
	if c.Kind == ChangeCrisis {
		m.reloadCrisis()
		return
	}
	cur := m.index.byID(c.ID)
	switch c.Kind {
	case ChangeRevoked:
		if cur == nil || cur.s.Revoked {
			return
		}
		m.index.revoke(c.ID)
		if e := m.index.byID(c.ID); e != nil {
			m.ended(e.s, EndRevoked)
		}
	case ChangeCreated, ChangeRebound:
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := m.store.Get(ctx, c.ID)
		if err != nil {
			m.log.Warn("session: fetch announced session", "session", c.ID, "err", err)
			return
		}
		if cur != nil && cur.s.MACKey == r.MACKey {
			return // ours, or already applied
		}
		m.adopt(r)
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

// resync re-reads the live sessions after the change feed was interrupted.
func (m *Manager) resync(ctx context.Context) {
	m.counters.feedResyncs.Add(1)
	n := 0
	err := m.store.Live(ctx, m.now(), func(r Record) error {
		if cur := m.index.byID(r.ID); cur == nil || cur.s.MACKey != r.MACKey {
			if m.adopt(r) {
				n++
			}
		}
		return nil
	})
	if err != nil {
		m.log.Warn("session: resync", "err", err)
		return
	}
	m.log.Info("session: change feed restored", "adopted", n)
}

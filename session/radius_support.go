package session

import (
	"context"
	"fmt"
)

// SeenDurable is Seen for a caller that must not acknowledge before the
// activity is on disk: RADIUS accounting, whose Accounting-Response tells the
// access point it may forget the record (RFC 2866 §2). It updates the index
// as Seen does, then writes the index's view of the session to the store (or
// its move journal, Options.Journal) and returns once it is durable there.
//
// While the store is away, the record goes into the bounded buffer of
// pending writes instead (one entry per session, at most maxPending), which
// the background writer empties when the store returns; SeenDurable then
// returns nil, so the access point is answered and does not pile up
// retransmissions. Only when the buffer is full does it return an error (the
// access point retransmits), counted as ActivityDropped.
func (m *Manager) SeenDurable(ctx context.Context, id string, a Activity) (Session, error) {
	if a.At.IsZero() {
		a.At = m.now()
	}
	s, roamed, stale, ok := m.index.touch(id, a)
	if !ok {
		return Session{}, ErrNotFound
	}
	if stale {
		// Nothing changed: the access point reports an association the
		// device has left. It is answered; there is nothing to store.
		m.counters.staleActivity.Add(1)
		return s, nil
	}
	if roamed {
		m.emit(Event{Kind: EventRoam, Session: s, At: a.At})
	}
	sealed, err := m.sealDevice(id, s.Device, s.LastSeen)
	if err != nil {
		sealed = nil // keep the stored device
	}
	stored := Activity{At: s.LastSeen, Location: s.CurrentLocation, AP: s.AP,
		InputOctets: s.InputOctets, OutputOctets: s.OutputOctets, NAS: s.NAS}
	if m.journal != nil {
		err = m.journalTouch(Touch{ID: id, Activity: stored, Roams: s.Roams, SealedDevice: sealed})
	} else {
		err = m.store.Touch(ctx, id, stored, s.Roams, sealed)
	}
	m.storeResult(err)
	if err != nil {
		if m.queueWrite(id, true) {
			m.counters.activityBuffered.Add(1)
			return s, nil
		}
		m.counters.activityDropped.Add(1)
		return s, fmt.Errorf("session: record activity (buffer full): %w", err)
	}
	return s, nil
}

package session

import (
	"context"
	"fmt"
)

// SeenDurable is Seen for a caller that must not acknowledge before the
// activity is on disk: RADIUS accounting, whose Accounting-Response tells the
// access point it may forget the record (RFC 2866 §2). It updates the index
// as Seen does, then writes the index's view of the session to the store and
// returns once the store has it. If the write fails the index keeps the
// update (it is the authority for the hot path) and the background writer
// tries again; the error tells the caller not to acknowledge, so the access
// point retransmits.
func (m *Manager) SeenDurable(ctx context.Context, id string, a Activity) (Session, error) {
	if a.At.IsZero() {
		a.At = m.now()
	}
	s, roamed, ok := m.index.touch(id, a)
	if !ok {
		return Session{}, ErrNotFound
	}
	if roamed {
		m.emit(Event{Kind: EventRoam, Session: s, At: a.At})
	}
	sealed, err := m.sealDevice(id, s.Device)
	if err != nil {
		sealed = nil // keep the stored device
	}
	stored := Activity{At: s.LastSeen, Location: s.CurrentLocation, AP: s.AP,
		InputOctets: s.InputOctets, OutputOctets: s.OutputOctets, NAS: s.NAS}
	if err := m.store.Touch(ctx, id, stored, s.Roams, sealed); err != nil {
		m.markDirty(id, Activity{})
		return s, fmt.Errorf("session: record activity: %w", err)
	}
	return s, nil
}

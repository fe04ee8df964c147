package radius

import (
	"context"
	"net/netip"
	"time"

	"roamgate/session"
)

// CrisisSessions is implemented by a Sessions that knows crisis mode (the
// *session.Manager does). While a crisis is active, MAC authentication
// from a configured client admits every device: a crisis session is
// created for it and accepted with that session's short Session-Timeout,
// so normal operation returns by itself when the crisis ends.
type CrisisSessions interface {
	// CrisisActive is the hot-path check; it must do no I/O.
	CrisisActive() bool
	// CrisisAdmit creates (or returns) the device's crisis session;
	// session.ErrNoCrisis if the crisis ended meanwhile.
	CrisisAdmit(ctx context.Context, req session.CreateRequest) (session.Session, error)
}

// crisisAdmitTimeout bounds the store write of a crisis sign-in; the access
// point retransmits if it takes longer.
const crisisAdmitTimeout = 2 * time.Second

// crisisAdmit returns a crisis session for a device that has none, when a
// crisis is active. Only an authentic request from a configured client
// reaches it (the caller has checked both).
func (s *Server) crisisAdmit(c *client, src netip.AddrPort, req *request, mac session.MAC) (session.Session, bool) {
	cs, ok := s.sessions.(CrisisSessions)
	if !ok || !cs.CrisisActive() {
		return session.Session{}, false
	}
	ctx, cancel := context.WithTimeout(context.Background(), crisisAdmitTimeout)
	defer cancel()
	sess, err := cs.CrisisAdmit(ctx, session.CreateRequest{MAC: mac, HasMAC: true, Location: s.locate(c, src, req)})
	if err != nil {
		s.log.Debug("radius: crisis admission failed", "err", err) // per packet: off by default
		return session.Session{}, false
	}
	return sess, true
}

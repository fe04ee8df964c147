package radius

import (
	"context"
	"errors"
	"net/netip"
	"sync"

	"roamgate/session"
)

// NASHint is what the portal learned about the access point a device
// arrived through, for re-authorising a device that no NAS has reported
// yet (its MAC authentication was rejected before it signed in, so its
// session has no NAS).
type NASHint struct {
	// ID is the NAS-Identifier the arrival named (nas_id, nasid), if any.
	ID string
	// AP is the access point's MAC, when HasAP.
	AP    session.MAC
	HasAP bool
	// Addr is an address the arrival came from or named that may be the
	// NAS: the access point's when it NATs its clients, or the host of
	// its login URL. Used only if it is in the client table.
	Addr netip.Addr
}

// nasDirectory remembers where each NAS-Identifier and AP MAC was last
// heard from, from authentic Access-Requests that were accepted and from
// accounting: a NAS that serves any signed-in device is known by them.
// Only clients with the shared secret can add to it, and it is bounded.
type nasDirectory struct {
	mu   sync.Mutex
	byID map[string]netip.Addr
	byAP map[session.MAC]netip.Addr
}

// maxDirectory bounds each map: more NAS-Identifiers or AP MACs than a town
// has. When full, the map starts over (what is current is heard again).
const maxDirectory = 1 << 14

func (d *nasDirectory) note(id []byte, ap session.MAC, hasAP bool, addr netip.Addr) {
	if !addr.IsValid() || (len(id) == 0 && !hasAP) {
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	// What is known already costs a lookup, no allocation (string(id) in
	// a map index does not copy).
	if len(id) > 0 && d.byID[string(id)] != addr {
		if d.byID == nil || len(d.byID) >= maxDirectory {
			d.byID = make(map[string]netip.Addr)
		}
		d.byID[string(id)] = addr
	}
	if hasAP && d.byAP[ap] != addr {
		if d.byAP == nil || len(d.byAP) >= maxDirectory {
			d.byAP = make(map[session.MAC]netip.Addr)
		}
		d.byAP[ap] = addr
	}
}

// find is the address of the NAS a hint names: by NAS-Identifier first (it
// names the NAS itself), then by AP MAC.
func (d *nasDirectory) find(h NASHint) (netip.Addr, bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if a, ok := d.byID[h.ID]; ok && h.ID != "" {
		return a, true
	}
	if a, ok := d.byAP[h.AP]; ok && h.HasAP {
		return a, true
	}
	return netip.Addr{}, false
}

// noteNAS records where an authentic request's NAS is.
func (s *Server) noteNAS(req *request, addr netip.Addr) {
	ap, hasAP := calledAP(req.calledStationID)
	s.nases.note(req.nasIdentifier, ap, hasAP, addr)
}

// Reauthorize asks the NAS a device has just signed in through to let it in
// now: a CoA-Request with the session's authorisation (CoA), to the NAS
// that last reported the session or, when none has, the one the hint
// names — its address if that is a client's, else the NAS last heard with
// its NAS-Identifier or AP MAC. ErrNoNAS: none is known; ErrNoCoA: the
// NAS's implementation takes no CoA (hostapd, Meraki), and the device gets
// in at its next association. Every outcome is counted
// (roamgate_radius_reauthorizations_total).
func (s *Server) Reauthorize(ctx context.Context, sess session.Session, hint NASHint) (DynamicResult, error) {
	t := TargetOf(sess)
	if !t.NAS.Addr.IsValid() {
		if a := hint.Addr.Unmap(); a.IsValid() && s.clients.lookup(a) != nil {
			t.NAS = session.NAS{Addr: a, ID: hint.ID}
		} else if a, ok := s.nases.find(hint); ok {
			t.NAS = session.NAS{Addr: a, ID: hint.ID}
		}
	}
	res, err := s.coa(ctx, sess, t)
	switch {
	case err == nil:
		s.stats.reauths[res.Outcome].Add(1)
	case errors.Is(err, ErrNoCoA):
		s.stats.reauthUnsupported.Add(1)
	case errors.Is(err, ErrNoNAS), errors.Is(err, ErrUnknownNAS):
		s.stats.reauthNoNAS.Add(1)
	default:
		s.stats.reauthErrors.Add(1)
	}
	return res, err
}

package radius

import (
	"context"
	"errors"
	"math"
	"sync"
	"testing"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/session"
)

// The real manager knows crisis mode.
var _ CrisisSessions = (*session.Manager)(nil)

// crisisSessions is fakeSessions with a crisis switch: CrisisAdmit makes a
// session for the device, as the manager does.
type crisisSessions struct {
	*fakeSessions
	cmu    sync.Mutex
	active bool
	fail   error
	admits []session.CreateRequest
}

func (c *crisisSessions) CrisisActive() bool {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	return c.active
}

func (c *crisisSessions) CrisisAdmit(_ context.Context, req session.CreateRequest) (session.Session, error) {
	c.cmu.Lock()
	defer c.cmu.Unlock()
	if c.fail != nil {
		return session.Session{}, c.fail
	}
	c.admits = append(c.admits, req)
	s := session.Session{ID: "c0ffee00000000000000000000000001", Location: req.Location, CurrentLocation: req.Location, Crisis: true}
	c.fakeSessions.mu.Lock()
	c.fakeSessions.byMAC[req.MAC] = s
	c.fakeSessions.mu.Unlock()
	return s, nil
}

func TestCrisisAdmitsUnknownDevices(t *testing.T) {
	cs := &crisisSessions{fakeSessions: newFakeSessions()}
	ts := startServer(t, testConfig(), Deps{Sessions: cs})
	stranger := "02-C1-51-00-00-01"
	ask := func(mac string) *layeh.Packet {
		t.Helper()
		return mustExchange(t, sign(t, newRequest(layeh.CodeAccessRequest, testSecret,
			attr{rfc2865.UserName_Type, mac}, attr{rfc2865.CallingStationID_Type, mac})), ts.AuthAddr())
	}
	tests := []struct {
		name   string
		active bool
		fail   error
		mac    string
		want   layeh.Code
	}{
		{"no crisis: rejected", false, nil, stranger, layeh.CodeAccessReject},
		{"store fails: rejected", true, errors.New("store down"), stranger, layeh.CodeAccessReject},
		{"crisis: accepted", true, nil, stranger, layeh.CodeAccessAccept},
		{"crisis over, session lives on", false, nil, stranger, layeh.CodeAccessAccept},
		{"crisis over: new device rejected", false, nil, "02-C1-51-00-00-02", layeh.CodeAccessReject},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cs.cmu.Lock()
			cs.active, cs.fail = tc.active, tc.fail
			cs.cmu.Unlock()
			resp := ask(tc.mac)
			ts.nextOutcome(t)
			if resp.Code != tc.want {
				t.Fatalf("answer %v, want %v", resp.Code, tc.want)
			}
			if resp.Code == layeh.CodeAccessAccept {
				if got := getString(resp, rfc2865.Class_Type); got != "c0ffee00000000000000000000000001" {
					t.Errorf("Class %q, want the crisis session", got)
				}
				want := uint32(math.Ceil(cs.timeLeft.Seconds())) // the session's time left, rounded up
				if secs, ok := getInt(t, resp, rfc2865.SessionTimeout_Type); !ok || secs != want {
					t.Errorf("Session-Timeout %d (%v), want the session's %d s", secs, ok, want)
				}
			}
		})
	}
	if len(cs.admits) != 1 || cs.admits[0].Location != "rathaus" || !cs.admits[0].HasMAC || cs.admits[0].MAC.String() != "02:c1:51:00:00:01" {
		t.Errorf("admissions %+v, want one for the stranger at the client's location", cs.admits)
	}
}

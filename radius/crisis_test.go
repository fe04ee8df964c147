package radius

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sync"
	"testing"
	"time"

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

// slowCrisis is crisisSessions whose store write of a crisis admission
// waits until release is closed (or its deadline passes).
type slowCrisis struct {
	*crisisSessions
	entered chan struct{}
	release chan struct{}
}

func (c *slowCrisis) CrisisAdmit(ctx context.Context, req session.CreateRequest) (session.Session, error) {
	select {
	case c.entered <- struct{}{}:
	default: // told already
	}
	select {
	case <-c.release:
	case <-ctx.Done():
		return session.Session{}, ctx.Err()
	}
	return c.crisisSessions.CrisisAdmit(ctx, req)
}

// TestSlowCrisisAdmissionHoldsUpNoOne: while a crisis admission waits for
// the store (up to crisisAdmitTimeout), the reader goes on reading and
// another worker answers the other requests.
func TestSlowCrisisAdmissionHoldsUpNoOne(t *testing.T) {
	cs := &slowCrisis{crisisSessions: &crisisSessions{fakeSessions: newFakeSessions(), active: true},
		entered: make(chan struct{}, 1), release: make(chan struct{})}
	ts := startServer(t, testConfig(), Deps{Sessions: cs})
	ask := func(mac string) *layeh.Packet {
		return sign(t, newRequest(layeh.CodeAccessRequest, testSecret,
			attr{rfc2865.UserName_Type, mac}, attr{rfc2865.CallingStationID_Type, mac}))
	}
	stranger := make(chan error, 1)
	go func() {
		resp, err := exchange(ask("02-C1-51-00-00-03"), ts.AuthAddr(), 10*time.Second)
		if err == nil && resp.Code != layeh.CodeAccessAccept {
			err = fmt.Errorf("answer %v, want Access-Accept", resp.Code)
		}
		stranger <- err
	}()
	select {
	case <-cs.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the crisis admission did not begin within 10s")
	}
	// Well below crisisAdmitTimeout: a reader stuck in the admission
	// would read this request only once the admission gave up.
	resp, err := exchange(ask(liveMAC.String()), ts.AuthAddr(), crisisAdmitTimeout/2)
	if err != nil {
		t.Fatalf("a known device was not answered while a crisis admission waited: %v", err)
	}
	if resp.Code != layeh.CodeAccessAccept {
		t.Fatalf("known device: answer %v, want Access-Accept", resp.Code)
	}
	close(cs.release)
	if err := <-stranger; err != nil {
		t.Fatalf("the admitted device: %v", err)
	}
}

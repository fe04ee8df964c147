package session

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"net/netip"
	"time"
)

// Errors callers branch on.
var (
	ErrNotFound = errors.New("session: not found")
	ErrExpired  = errors.New("session: expired")
	ErrRevoked  = errors.New("session: revoked")
	ErrExists   = errors.New("session: already exists")
)

// Session is one citizen's device being online. It holds no MAC address, IP
// address or token in the clear.
type Session struct {
	// The fields the RADIUS hot path reads to accept a device come first,
	// so that they share the fewest cache lines: at a million sessions each
	// line of a session an answer touches is a miss.

	// ID is a random 128-bit identifier, 32 hex digits.
	ID string
	// Revoked: the session was ended by an admin or its holder.
	Revoked bool
	// Crisis marks a session created while crisis mode was active (see
	// crisis.go): admitted without sign-in, counted separately.
	Crisis bool
	// RandomMAC records that the MAC is locally administered (a phone's
	// private address), so a change of MAC is expected rather than suspicious.
	RandomMAC bool
	// Network is the network (networks[].id) the session started on.
	Network string
	// CurrentLocation and AP are where the device was seen last.
	CurrentLocation string
	AP              string
	// NAS is the access point or controller that reported the session last:
	// where a Disconnect-Request goes.
	NAS      NAS
	Expires  time.Time
	LastSeen time.Time

	// MACKey is the keyed hash of the device's current MAC; empty when the
	// access point did not tell us the MAC.
	MACKey MACKey
	// Location is where the session started.
	Location string
	Created  time.Time
	// Octets the access points reported.
	InputOctets  uint64
	OutputOctets uint64
	// Roams counts the moves to another location.
	Roams int
	// Device identifies the device on the network. It is held in memory
	// only; a Store sees it sealed (Record.SealedDevice).
	Device Device
}

// NAS is the RADIUS client that last reported a session.
type NAS struct {
	// Addr is the source address of its packets (the CoA target).
	Addr netip.Addr
	// ID is its NAS-Identifier.
	ID string
	// AcctSessionID is the NAS's Acct-Session-Id for the session, which a
	// Disconnect-Request names.
	AcctSessionID string
}

// Device is what identifies a device on the network: personal data, so it
// never reaches a store or a log in the clear.
type Device struct {
	// MAC is valid when HasMAC.
	MAC    MAC
	HasMAC bool
	// IP is the client address (portal sign-in or Framed-IP-Address).
	IP netip.Addr
	// IPv6Prefix is the Framed-IPv6-Prefix, if the NAS reported one.
	IPv6Prefix netip.Prefix
	// AddrByNAS says a NAS reported the addresses (Framed-IP-Address,
	// Framed-IPv6-Prefix from an authenticated access point) rather than
	// the portal seeing the device sign in from them. A sign-in never
	// replaces addresses a NAS reported.
	AddrByNAS bool
	// AddrCurrent says the addresses are vouched for the session's current
	// association: its NAS reported them for it, or — before any
	// association — the device signed in from them. A new association
	// clears it until its NAS reports an address. See Session.FromDevice.
	AddrCurrent bool
}

// FromDevice reports whether a request from ip comes from the session's
// device where it is now: from the address the access point reported for
// the session's current association, or, before any access point reported
// the session, from the address it signed in from. Where the session is
// (its current location) may be shown only to such a request: the holder
// of a token need not be the device, since on open WiFi anyone who sees a
// MAC can sign in for it (issue 11).
func (s Session) FromDevice(ip netip.Addr) bool {
	d := s.Device
	if !d.AddrCurrent || !ip.IsValid() {
		return false
	}
	ip = ip.Unmap()
	return (d.IP.IsValid() && ip == d.IP) || (d.IPv6Prefix.IsValid() && d.IPv6Prefix.Contains(ip))
}

// Record is what a Store keeps: the session and its token, sealed with a key
// derived from the site key so that the token is not on disk in the clear.
type Record struct {
	Session
	SealedToken []byte
	// SealedDevice is Session.Device, sealed like the token; Stores keep
	// it and leave Session.Device alone.
	SealedDevice []byte
}

// ActivityKind says what an access point reported. It decides whether the
// report may move the session (see Manager.Seen): an access point keeps
// reporting an association the device has left (CoovaChilli until its
// Idle-Timeout, up to hours), and those reports must not pull the session
// back.
type ActivityKind uint8

// Activity kinds.
const (
	// ActivityAccess: the device was just authenticated there (an accepted
	// Access-Request). It always moves the session; a report from another
	// place (NAS, AP) or with another Acct-Session-Id starts a new
	// association.
	ActivityAccess ActivityKind = iota
	// ActivityStart: an association's accounting began (Accounting-Start).
	// It moves the session unless it is older than the current association
	// (by At, or because it is the association the session left).
	ActivityStart
	// ActivityInterim: an association's running totals (Interim-Update).
	// Only the current association's move the session.
	ActivityInterim
	// ActivityStop: an association ended (Accounting-Stop). It never moves
	// the session; the current association's updates its counters.
	ActivityStop
)

// Activity is an observation of a session from an access point.
type Activity struct {
	// Kind is what reported it; the zero value is ActivityAccess.
	Kind ActivityKind
	// At is when it happened (for accounting: when the NAS saw it, see
	// radius), by the manager's clock when zero.
	At           time.Time
	Location     string
	AP           string
	InputOctets  uint64
	OutputOctets uint64
	// NAS is who reported it. Manager.Seen keeps the previous NAS when
	// this is zero; Store.Touch stores it as given.
	NAS NAS
	// IP and IPv6Prefix are the Framed-IP-Address and Framed-IPv6-Prefix;
	// Manager.Seen keeps the previous ones when these are not valid.
	IP         netip.Addr
	IPv6Prefix netip.Prefix
}

// Store keeps sessions durably. Implementations must be safe for concurrent
// use, and Create must not return before the record is durable: a sign-in is
// acknowledged only after it is committed. Every Store passes
// session/storetest.
type Store interface {
	// Create stores a new record; ErrExists if the ID is taken.
	Create(ctx context.Context, r Record) error
	// Get returns the record with the given ID or ErrNotFound.
	Get(ctx context.Context, id string) (Record, error)
	// Rebind moves a session to a new MAC key and token; ErrNotFound if absent.
	Rebind(ctx context.Context, id string, key MACKey, random bool, sealedToken []byte) error
	// Touch records activity; CurrentLocation, AP, LastSeen and NAS are
	// replaced, Roams is set to roams, octets are replaced when non-zero,
	// the sealed device (Record.SealedDevice) when not nil. Activity's IP
	// fields are ignored: addresses reach a store only sealed.
	Touch(ctx context.Context, id string, a Activity, roams int, sealedDevice []byte) error
	// Revoke marks a session revoked and forgets its sealed token, so that
	// clearing the flag by hand cannot bring the session back; ErrNotFound
	// if absent.
	Revoke(ctx context.Context, id string) error
	// DeleteEnded removes sessions that expired before the given time or
	// were revoked, and returns how many.
	DeleteEnded(ctx context.Context, before time.Time) (int, error)
	// Live calls fn for every session that is not revoked and expires after
	// now, in no particular order; it stops at fn's first error.
	Live(ctx context.Context, now time.Time, fn func(Record) error) error
	// Close releases the store.
	Close() error
}

// Touch is one session's activity for BatchToucher.TouchMany: the arguments
// of Store.Touch.
type Touch struct {
	ID           string
	Activity     Activity
	Roams        int
	SealedDevice []byte
}

// BatchToucher is a Store that records the activity of many sessions at once
// (SQLite: in one group commit, one fsync, instead of one each). The
// Manager's background writer uses it when its store has it.
type BatchToucher interface {
	// TouchMany does Store.Touch for each of touches and returns once all
	// are done; errs[i] (len(errs) == len(touches)) is the result of
	// touches[i].
	TouchMany(ctx context.Context, touches []Touch, errs []error)
}

// newID returns a random 128-bit session ID.
func newID() (string, error) {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// ValidID reports whether s has the shape of a session ID, so that hostile
// input is refused before it reaches a store.
func ValidID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// Notifier is implemented by stores that several gateways share: it tells
// every gateway about creates, re-binds and revocations made by any of them,
// so that each in-memory index follows at once.
type Notifier interface {
	// Watch calls fn for each change until ctx ends. subscribed is called
	// each time the feed is (re)established: changes made before it may
	// have been missed.
	Watch(ctx context.Context, fn func(Change), subscribed func()) error
}

// ChangeKind is what a Change did.
type ChangeKind string

// Change kinds.
const (
	ChangeCreated ChangeKind = "created"
	ChangeRebound ChangeKind = "rebound"
	ChangeRevoked ChangeKind = "revoked"
	// ChangeCrisis: the crisis state changed (ID is empty); re-read it.
	ChangeCrisis ChangeKind = "crisis"
)

// Change is one change announced by a Notifier.
type Change struct {
	Kind ChangeKind
	ID   string
}

package session

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// Policy says how long sessions live.
type Policy struct {
	// Lifetime is how long a session lives after sign-in.
	Lifetime time.Duration
	// IdleTimeout ends a session that no access point has reported for this
	// long; zero disables it.
	IdleTimeout time.Duration
	// NetworkLifetime overrides Lifetime per network ID.
	NetworkLifetime map[string]time.Duration
}

func (p Policy) lifetime(network string) time.Duration {
	if d, ok := p.NetworkLifetime[network]; ok && d > 0 {
		return d
	}
	return p.Lifetime
}

// MaxLifetime is the longest lifetime any session can get; tokens never live
// longer, which bounds how long a retired signing key must keep verifying.
func (p Policy) MaxLifetime() time.Duration {
	max := p.Lifetime
	for _, d := range p.NetworkLifetime {
		if d > max {
			max = d
		}
	}
	return max
}

// Options are the collaborators of a Manager.
type Options struct {
	Store   Store
	Tokens  *Tokens
	SiteKey []byte
	Policy  Policy
	// Now defaults to time.Now.
	Now func() time.Time
	// Logger defaults to slog.Default().
	Logger *slog.Logger
	// CrisisLifetime is the lifetime of sessions created while a crisis is
	// active (see crisis.go); zero means DefaultCrisisLifetime. It is
	// capped at Policy.MaxLifetime, which bounds every token.
	CrisisLifetime time.Duration
	// Journal, when set, is the directory of the move journal
	// (journal.go): activity is durable there and reaches the store at
	// checkpoints. Only for a store of one gateway (not a Notifier).
	Journal string
}

// Manager is the only place where sessions are created, found, moved and
// revoked. Lookups are served from an in-memory index so that the RADIUS path
// never waits on the store; every change is written to the store first.
type Manager struct {
	store  Store
	tokens *Tokens
	hasher *Hasher
	sealer *sealer
	uamKey []byte
	policy Policy
	now    func() time.Time
	log    *slog.Logger

	index    index
	counters counters
	crisis   crisisState
	loaded   LoadReport

	// Activity from access points is written to the store in the background,
	// coalesced per session, so that accepting a device costs no store I/O.
	endMu   sync.Mutex
	onEnd   []func(Session, EndReason)
	onEvent []func(Event)

	pendingMu sync.Mutex
	pending   map[string]struct{} // sessions whose index view waits for the store
	wake      chan struct{}
	stop      chan struct{}
	done      chan struct{}
	closeOnce sync.Once
	// Close joins every background goroutine: the flush loop (done), the
	// change feed (watchDone) and the loops here, the health loop and the
	// crisis poll. stopped ends with Close, and with it their store calls.
	loops   sync.WaitGroup
	stopped context.Context
	stopAll context.CancelFunc

	// A shared store's change feed (Notifier) is followed in the background.
	stopWatch context.CancelFunc
	watchDone chan struct{}

	// The move journal (Options.Journal), nil without one. replay is what
	// its files hold at start-up, applied by load.
	journal       *journal
	replay        *journalTouches
	checkpointMu  sync.Mutex // one checkpoint at a time
	checkpointing atomic.Bool
}

// CreateRequest describes a sign-in.
type CreateRequest struct {
	// MAC of the device, when the access point told us; HasMAC says whether.
	MAC      MAC
	HasMAC   bool
	Network  string
	Location string
	AP       string
	// ClientIP is the address the sign-in came from, when it is the
	// device's own (the portal leaves it zero when it sees an access point
	// that NATs its clients). Never an address the browser names (a vendor
	// redirect's ip= parameter): an address claimed here answers DNS and
	// probes for the device (Manager.ByIP).
	ClientIP netip.Addr
	// Token is the session token the requester presents (the browser's
	// cookie), if any: the proof that it holds that session. Only a holder
	// gets an existing session back; see Manager.Create.
	Token string
}

// LoadReport says what NewManager found in the store.
type LoadReport struct {
	Loaded   int
	Rejected int // records whose token did not verify or match
	// Upgraded counts the loaded records sealed by version 1 (before
	// issue 11), verified by the claims of their token (see openToken).
	Upgraded int
	// Journaled counts the loaded sessions whose activity came from the
	// move journal (moves the store had not been given before a stop).
	Journaled int
}

// NewManager loads the live sessions of the store into the index. Records
// whose sealed token does not open, verify, or match the record are left out:
// a tampered store entry cannot grant access.
func NewManager(ctx context.Context, o Options) (*Manager, LoadReport, error) {
	var rep LoadReport
	if o.Store == nil || o.Tokens == nil {
		return nil, rep, errors.New("session: manager needs a store and tokens")
	}
	hasher, err := NewHasher(o.SiteKey)
	if err != nil {
		return nil, rep, err
	}
	seal, err := newSealer(o.SiteKey)
	if err != nil {
		return nil, rep, fmt.Errorf("session: %w", err)
	}
	if o.Policy.Lifetime <= 0 {
		return nil, rep, errors.New("session: policy lifetime must be positive")
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	uam := hmac.New(sha256.New, o.SiteKey)
	uam.Write([]byte("roamgate uam secret v1"))
	m := &Manager{
		store: o.Store, tokens: o.Tokens, hasher: hasher, sealer: seal, uamKey: uam.Sum(nil),
		policy: o.Policy, now: o.Now, log: o.Logger,
		pending: make(map[string]struct{}),
		wake:    make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}),
	}
	m.crisis.lifetime = min(cmp.Or(o.CrisisLifetime, DefaultCrisisLifetime), o.Policy.MaxLifetime())
	if o.Journal != "" {
		if _, shared := o.Store.(Notifier); shared {
			return nil, rep, errors.New("session: a move journal is for a store of one gateway; a shared store's other gateways read the moves from the store")
		}
		if m.journal, err = openJournal(o.Journal); err != nil {
			return nil, rep, err
		}
		m.replay = m.readJournal()
	}
	if n, ok := o.Store.(Notifier); ok {
		// Subscribe before loading, so no change falls in between.
		wctx, cancel := context.WithCancel(context.Background())
		m.stopWatch, m.watchDone = cancel, make(chan struct{})
		ready := make(chan struct{})
		go func() {
			defer close(m.watchDone)
			m.watch(wctx, n, ready)
		}()
		select {
		case <-ready:
		case <-ctx.Done():
			cancel()
			<-m.watchDone
			return nil, rep, fmt.Errorf("session: change feed: %w", ctx.Err())
		case <-time.After(10 * time.Second):
			m.log.Warn("session: change feed not ready after 10s; going on, it resyncs when it is")
		}
	}
	err = m.load(ctx)
	if err == nil {
		err = m.loadCrisis(ctx)
	}
	if err != nil {
		if m.stopWatch != nil {
			m.stopWatch()
			<-m.watchDone
		}
		if m.journal != nil {
			m.journal.close()
		}
		return nil, rep, fmt.Errorf("session: load store: %w", err)
	}
	rep = m.loaded
	m.stopped, m.stopAll = context.WithCancel(context.Background())
	go m.flushLoop()
	if m.journal != nil {
		if len(m.replay.touches) > 0 {
			m.journal.signalFull() // the store gets them soon, not in checkpointEvery
		}
		m.replay = nil
		m.loops.Go(m.checkpointLoop)
	}
	if p, ok := o.Store.(pinger); ok {
		m.loops.Go(func() { m.healthLoop(p) })
	}
	if _, feed := o.Store.(Notifier); !feed {
		if _, ok := o.Store.(CrisisStore); ok {
			m.loops.Go(m.crisisPollLoop) // another process (roamgate crisis) may write it
		}
	}
	return m, rep, nil
}

// load reads the live sessions into the index. The store scans; workers on
// every core check and decode the records, since that is the bulk of the
// work when a gateway restarts with a million sessions.
func (m *Manager) load(ctx context.Context) error {
	workers := max(runtime.GOMAXPROCS(0), 1)
	records := make(chan Record, 1024)
	var loaded, rejected, upgraded, journaled atomic.Int64
	var wg sync.WaitGroup
	in := newInterner()
	for range workers {
		wg.Go(func() {
			for r := range records {
				if i, ok := m.replay.find(r.ID); ok {
					applyTouch(&r, m.replay.touches[i])
					journaled.Add(1)
				}
				exp, v1, err := m.verifyRecord(r)
				if err != nil {
					rejected.Add(1)
					m.log.Warn("session: stored session refused", "session", r.ID, "err", err)
					continue
				}
				if v1 {
					upgraded.Add(1)
				}
				r.Session.Device, r.Session.LastSeen, err = m.openDevice(r)
				if err != nil {
					// The session stands (its token checked out); the
					// device's addresses are lost until the NAS reports
					// them, and it counts as seen when it was created.
					m.log.Warn("session: stored device refused", "session", r.ID, "err", err)
				}
				in.session(&r.Session)
				m.index.load(&entry{s: r.Session, exp: exp})
				loaded.Add(1)
			}
		})
	}
	err := m.store.Live(ctx, m.now(), func(r Record) error {
		select {
		case records <- r:
			return nil
		case <-ctx.Done():
			return ctx.Err()
		}
	})
	close(records)
	wg.Wait()
	m.loaded = LoadReport{Loaded: int(loaded.Load()), Rejected: int(rejected.Load()), Upgraded: int(upgraded.Load()),
		Journaled: int(journaled.Load())}
	return err
}

// interner shares one copy of the strings that repeat across sessions
// (network, locations, AP, NAS): with a million sessions the copies a store
// scan makes would otherwise cost tens of megabytes.
type interner struct {
	mu sync.Mutex
	m  map[string]string
}

func newInterner() *interner { return &interner{m: map[string]string{}} }

func (in *interner) session(s *Session) {
	in.mu.Lock()
	defer in.mu.Unlock()
	for _, p := range []*string{&s.Network, &s.Location, &s.CurrentLocation, &s.AP, &s.NAS.ID} {
		if *p == "" {
			continue
		}
		if c, ok := in.m[*p]; ok {
			*p = c
		} else if len(in.m) < 1<<16 { // bounded: AP names are many, not unbounded
			in.m[*p] = *p
		}
	}
}

// verifyRecord checks that a stored record carries the token this site
// sealed for exactly this session, device, expiry, network … (see tokenAAD),
// and returns the expiry it vouches for; v1 says the record was sealed by
// version 1 (see openToken).
func (m *Manager) verifyRecord(r Record) (exp time.Time, v1 bool, err error) {
	if v1, err = m.openToken(r); err != nil {
		return time.Time{}, v1, fmt.Errorf("%w: the record does not match the token sealed for it", err)
	}
	return r.Expires, v1, nil
}

// Close stops the background writer after flushing pending activity, and
// every other goroutine of the manager: when it returns, the manager no
// longer touches the store, which the caller may then close (Close does
// not). It may be called more than once.
func (m *Manager) Close() error {
	m.closeOnce.Do(func() {
		close(m.stop)
		m.stopAll()
		if m.stopWatch != nil {
			m.stopWatch()
			<-m.watchDone
		}
		if m.journal != nil {
			<-m.done // the last flush is in the journal
			m.loops.Wait()
			m.closeJournal()
		}
	})
	<-m.done
	m.loops.Wait()
	return nil
}

// Hasher returns the MAC hasher of the site.
func (m *Manager) Hasher() *Hasher { return m.hasher }

// Policy returns the session policy.
func (m *Manager) Policy() Policy { return m.policy }

// Now returns the manager's clock reading.
func (m *Manager) Now() time.Time { return m.now() }

// Create signs a device in and returns its session and a fresh token. The
// session is durable when Create returns.
//
// A token is handed out only for a session the requester already holds: the
// live session of req.Token, which Create returns again (sign-in is
// idempotent and never extends a session), moved to req.MAC if it names
// another device (as Rebind does). Anyone else gets a new session, even for
// a MAC that has a live one: on open WiFi every MAC can be overheard, so a
// MAC proves nothing. The new session takes the MAC over (ByMAC, RADIUS MAC
// authentication); the session that had it lives on for its own holder, but
// grants nothing about that MAC any more, until its holder moves it back
// with Rebind (one tap in the portal).
func (m *Manager) Create(ctx context.Context, req CreateRequest) (Session, string, error) {
	var key MACKey
	if req.HasMAC {
		if req.MAC.Multicast() || req.MAC.IsZero() {
			return Session{}, "", fmt.Errorf("%w: %s is not a device address", ErrInvalidMAC, req.MAC)
		}
		key = m.hasher.Key(req.MAC)
	}
	if req.Token != "" {
		if s, err := m.FromToken(req.Token); err == nil {
			return m.signInAgain(ctx, s, key, req)
		}
	}
	id, err := newID()
	if err != nil {
		return Session{}, "", fmt.Errorf("session: create: %w", err)
	}
	now := m.now().UTC().Truncate(time.Second)
	lifetime, crisis := m.policy.lifetime(req.Network), m.CrisisActive()
	if crisis {
		// Short, so that normal operation returns soon after the crisis.
		lifetime = min(lifetime, m.crisis.lifetime)
	}
	ip := req.ClientIP.Unmap()
	s := Session{
		ID: id, MACKey: key, RandomMAC: req.HasMAC && req.MAC.LocallyAdministered(),
		Network: req.Network, Location: req.Location, CurrentLocation: req.Location, AP: req.AP,
		Created: now, Expires: now.Add(lifetime), LastSeen: now, Crisis: crisis,
		Device: Device{MAC: req.MAC, HasMAC: req.HasMAC, IP: ip, AddrCurrent: ip.IsValid()},
	}
	if !req.HasMAC {
		s.Device.MAC = MAC{}
	}
	tok, err := m.tokens.Issue(s)
	if err != nil {
		return Session{}, "", err
	}
	sealed, err := m.sealToken(s, tok)
	if err != nil {
		return Session{}, "", fmt.Errorf("session: create: %w", err)
	}
	device, err := m.sealDevice(id, s.Device, s.LastSeen)
	if err != nil {
		return Session{}, "", fmt.Errorf("session: create: %w", err)
	}
	stored := s
	stored.Device = Device{}
	err = m.store.Create(ctx, Record{Session: stored, SealedToken: sealed, SealedDevice: device})
	m.storeResult(err)
	if err != nil {
		return Session{}, "", fmt.Errorf("session: create: %w", err)
	}
	if prev := m.index.putOwner(&entry{s: s, exp: s.Expires}); prev != "" {
		m.displace(ctx, prev, key)
	}
	m.emit(Event{Kind: EventSignIn, Session: s, At: now})
	return s, tok, nil
}

// signInAgain is Create for the holder of s: s again, with a fresh token,
// moved to the request's MAC if that is another, and with the address the
// request came from (see index.claimAddr).
func (m *Manager) signInAgain(ctx context.Context, s Session, key MACKey, req CreateRequest) (Session, string, error) {
	if key != "" && s.MACKey != key {
		moved, tok, err := m.Rebind(ctx, req.Token, req.MAC)
		if err != nil {
			return Session{}, "", err
		}
		if got, ok := m.index.claimAddr(moved.ID, req.ClientIP); ok {
			moved = got
			m.markDirty(moved.ID)
		}
		return moved, tok, nil
	}
	if got, ok := m.index.claimAddr(s.ID, req.ClientIP); ok {
		s = got
		m.markDirty(s.ID)
	}
	tok, err := m.tokens.Issue(s)
	if err != nil {
		return Session{}, "", err
	}
	return s, tok, nil
}

// displace takes MAC key from the live session id, because another session
// has just taken the device over (a sign-in without this session's token,
// or a re-bind). The session lives on and its token still names it; it no
// longer grants anything about that MAC. The store gets the session without
// the MAC key and with a token sealed for that, so that a restart agrees; if
// that write fails, the index has moved anyway and a restart lets the
// device's newest session have the MAC (index.load).
func (m *Manager) displace(ctx context.Context, id string, key MACKey) {
	e := m.index.byID(id)
	if e == nil || e.s.MACKey != key {
		return
	}
	if _, err := m.live(e); err != nil {
		// Ended: it grants nothing anyway, and a restart does not load it
		// (or, idle, gives the MAC to the session seen last).
		m.index.unbind(id, key)
		return
	}
	m.counters.displaced.Add(1)
	s := e.s
	s.MACKey, s.RandomMAC = "", false
	tok, err := m.tokens.Issue(s)
	if err == nil {
		var sealed []byte
		if sealed, err = m.sealToken(s, tok); err == nil {
			err = m.store.Rebind(ctx, id, "", false, sealed)
		}
	}
	if err != nil {
		m.log.Warn("session: displaced session keeps its MAC in the store", "session", id, "err", err)
	}
	m.index.unbind(id, key)
	m.markDirty(id) // the device, re-sealed without the MAC
}

// ByMAC returns the live session of a device: the RADIUS hot path. It does
// no I/O. Errors: ErrNotFound, ErrRevoked, ErrExpired.
func (m *Manager) ByMAC(mac MAC) (Session, error) {
	return m.live(m.index.bySum(m.hasher.sum(mac)))
}

// ByMACShared is ByMAC without copying the session out of the index: the
// RADIUS server's path. A Session is ~340 octets over six cache lines, and
// at 100 000 sessions and more the index's are not in the CPU's caches:
// the copy cost ~270 ns a lookup at a million sessions, more than the map.
// The session is the index's own, which nothing changes (a change replaces
// it); the caller must not change it either, nor keep it longer than it
// needs its values.
func (m *Manager) ByMACShared(mac MAC) (Held, error) { return m.heldBySum(m.hasher.sum(mac)) }

func (m *Manager) heldBySum(sum macSum) (Held, error) {
	e := m.index.bySum(sum)
	if e == nil {
		return Held{}, ErrNotFound
	}
	now := m.now()
	return Held{Session: &e.s, id: &e.id, at: now}, m.checkAt(e, now)
}

// ByMACKey is ByMAC for an already hashed address.
func (m *Manager) ByMACKey(key MACKey) (Session, error) { return m.byKey(key) }

func (m *Manager) byKey(key MACKey) (Session, error) {
	if key == "" {
		return Session{}, ErrNotFound
	}
	return m.live(m.index.byMAC(key))
}

// ByID returns the live session with the given ID.
func (m *Manager) ByID(id string) (Session, error) {
	if !ValidID(id) {
		return Session{}, ErrNotFound
	}
	return m.live(m.index.byID(id))
}

// ByIP returns the live session of the device with the given address (from
// the portal sign-in or accounting's Framed-IP-Address / Framed-IPv6-Prefix):
// the captive DNS hot path. It does no I/O.
func (m *Manager) ByIP(ip netip.Addr) (Session, error) {
	return m.live(m.index.byIP(ip))
}

// FromToken verifies a token and returns its live session.
func (m *Manager) FromToken(token string) (Session, error) {
	c, err := m.tokens.Verify(token)
	if err != nil {
		return Session{}, err
	}
	return m.ByID(c.Subject)
}

func (m *Manager) live(e *entry) (Session, error) {
	if e == nil {
		return Session{}, ErrNotFound
	}
	return e.s, m.check(e)
}

// check says whether the session of e is live: nil, ErrRevoked or
// ErrExpired.
func (m *Manager) check(e *entry) error { return m.checkAt(e, m.now()) }

func (m *Manager) checkAt(e *entry, now time.Time) error {
	if e.s.Revoked {
		return ErrRevoked
	}
	if !now.Before(e.exp) || m.idle(&e.s, now) {
		return ErrExpired
	}
	if m.counters.storeDown.Load() {
		m.counters.failStatic.Add(1)
	}
	return nil
}

func (m *Manager) idle(s *Session, now time.Time) bool {
	return m.policy.IdleTimeout > 0 && now.Sub(s.LastSeen) > m.policy.IdleTimeout
}

// TimeLeft is how long s has until it ends by lifetime, 0 if that has
// passed. (A session held by ByMACShared says it without another clock
// read: Held.TimeLeft.)
func (m *Manager) TimeLeft(s Session) time.Duration {
	if d := s.Expires.Sub(m.now()); d > 0 {
		return d
	}
	return 0
}

// Rebind moves the live session of token to a new MAC, for a device that
// arrives with a valid session cookie but a new (rotated or per-SSID) MAC. It
// returns the session and a new token bound to the new MAC. A session that
// had that MAC is displaced, as by Create.
func (m *Manager) Rebind(ctx context.Context, token string, mac MAC) (Session, string, error) {
	s, err := m.FromToken(token)
	if err != nil {
		return Session{}, "", err
	}
	if mac.Multicast() || mac.IsZero() {
		return Session{}, "", fmt.Errorf("%w: %s is not a device address", ErrInvalidMAC, mac)
	}
	old := s.MACKey
	s.MACKey = m.hasher.Key(mac)
	s.RandomMAC = mac.LocallyAdministered()
	tok, err := m.tokens.Issue(s)
	if err != nil {
		return Session{}, "", err
	}
	sealed, err := m.sealToken(s, tok)
	if err != nil {
		return Session{}, "", fmt.Errorf("session: rebind: %w", err)
	}
	if err := m.store.Rebind(ctx, s.ID, s.MACKey, s.RandomMAC, sealed); err != nil {
		return Session{}, "", fmt.Errorf("session: rebind: %w", err)
	}
	prev := m.index.rebind(s.ID, old, s.MACKey, s.RandomMAC, mac)
	if prev != "" {
		// Another session had that MAC: it is taken over, as by a sign-in.
		m.displace(ctx, prev, s.MACKey)
	}
	s.Device.MAC, s.Device.HasMAC = mac, true
	m.markDirty(s.ID) // writes the re-sealed device
	m.emit(Event{Kind: EventRebind, Session: s, At: m.now()})
	return s, tok, nil
}

// Seen records that an access point reported the session (an accepted
// association or accounting). A change of location counts as a roam. The
// index is updated at once, the store in the background.
//
// Only a report of the session's current association, or of a newer one,
// changes anything (see ActivityKind): an access point the device has left
// goes on reporting the old association for a while, and that must neither
// move the session back nor count a roam. Such a report is counted
// (Counters.StaleActivity) and returns the session as it is.
func (m *Manager) Seen(id string, a Activity) (Session, error) {
	if a.At.IsZero() {
		a.At = m.now()
	}
	s, roamed, stale, ok := m.index.touch(id, a)
	if !ok {
		return Session{}, ErrNotFound
	}
	if stale {
		m.counters.staleActivity.Add(1)
		return s, nil
	}
	m.markDirty(id)
	if roamed {
		m.emit(Event{Kind: EventRoam, Session: s, At: a.At})
	}
	return s, nil
}

// NASRestarted forgets the presence (location, AP, NAS) of every session the
// NAS reported last: it sent Accounting-On or -Off, so its clients are gone
// from it. The sessions themselves live on. It returns how many changed.
func (m *Manager) NASRestarted(addr netip.Addr, nasID string) int {
	addr = addr.Unmap()
	match := func(n NAS) bool {
		return n != (NAS{}) && n.Addr == addr && (nasID == "" || n.ID == nasID)
	}
	changed := m.index.clearPresence(addr, match)
	for _, id := range changed {
		m.markDirty(id)
	}
	return len(changed)
}

// markDirty schedules the index's view of a session to be written to the
// store in the background.
func (m *Manager) markDirty(id string) { m.queueWrite(id, false) }

// maxPending bounds the sessions whose activity may wait for the store when
// a caller asks for a bounded queue (accounting during a store outage).
const maxPending = 100_000

// queueWrite adds a session to the background writer's set. Bounded, it
// refuses a new session once maxPending wait; a session already waiting is
// always accepted (its latest state is written anyway).
func (m *Manager) queueWrite(id string, bounded bool) bool {
	m.pendingMu.Lock()
	_, queued := m.pending[id]
	room := !bounded || queued || len(m.pending) < maxPending
	if room {
		m.pending[id] = struct{}{}
		m.counters.activityPending.Store(int64(len(m.pending)))
	}
	m.pendingMu.Unlock()
	if room {
		select {
		case m.wake <- struct{}{}:
		default:
		}
	}
	return room
}

func (m *Manager) flushLoop() {
	defer close(m.done)
	// While the store is away, failed writes wait in pending (one per
	// session, so the queue is bounded by the live sessions) and are
	// retried with backoff; the index keeps serving meanwhile.
	const minRetry, maxRetry = 100 * time.Millisecond, 5 * time.Second
	retry := time.NewTimer(time.Hour)
	retry.Stop()
	backoff := minRetry
	// A store that writes many sessions at once gets them at most every
	// flushEvery: the moves of one session within it are written once, and
	// the sessions share group commits. The first write after a quiet
	// spell goes at once.
	_, paced := m.store.(BatchToucher)
	paced = paced || m.journal != nil
	pace := time.NewTimer(time.Hour)
	pace.Stop()
	var last time.Time
	for {
		select {
		case <-m.wake:
		case <-retry.C:
		case <-m.stop:
			m.flush()
			return
		}
		if paced {
			if d := flushEvery - time.Since(last); d > 0 {
				pace.Reset(d)
				select {
				case <-pace.C:
				case <-m.stop:
					m.flush()
					return
				}
			}
			last = time.Now()
		}
		// The changes that woke the writer left dead slots in the
		// index's chunks: free them here, off the request path.
		m.index.compactAll()
		if m.flush() {
			backoff = minRetry
			continue
		}
		retry.Reset(backoff)
		backoff = min(2*backoff, maxRetry)
	}
}

// flushEvery is the shortest interval between two background writes to a
// BatchToucher store: how long a session's move may wait for the store.
const flushEvery = 100 * time.Millisecond

// flushChunk is how many sessions' activity flush hands a BatchToucher at
// once (each chunk within touchTimeout), and flushPause the rest it takes
// after each. A chunk is one group commit on SQLite, ~30 µs of CPU a
// session (sealing the device, the insert): with GOMAXPROCS 1, as in
// make bench-radius, a flush of the ~600 sessions that moved in
// flushEvery (5 % of 120 000 requests a second) held the only P for
// 20–30 ms in one piece, the longest gaps in the RADIUS answers
// (docs/BENCHMARKS.md); in chunks of 64 the answers that arrived
// meanwhile go next after ~2 ms. The price is a commit (and an fsync)
// per chunk instead of per flush.
const (
	flushChunk = 64
	flushPause = 200 * time.Microsecond
)

// touchTimeout bounds one background write of activity (or one chunk).
const touchTimeout = 5 * time.Second

// flush writes the pending activity and reports whether every write landed.
func (m *Manager) flush() bool {
	m.pendingMu.Lock()
	batch := m.pending
	m.pending = make(map[string]struct{}, len(batch))
	m.pendingMu.Unlock()
	var failed []string
	var firstErr error
	result := func(id string, err error) {
		switch {
		case err == nil, errors.Is(err, ErrNotFound):
			m.counters.activityWritten.Add(1)
		default:
			m.counters.activityFailed.Add(1)
			failed = append(failed, id)
			if firstErr == nil {
				firstErr = err
			}
		}
	}
	bt, many := m.store.(BatchToucher)
	j := m.journal
	if j != nil {
		many = true
	}
	var touches []Touch
	var errs []error
	if many {
		touches = make([]Touch, 0, min(len(batch), flushChunk))
	}
	// With a journal, the chunks are appended to it, and made durable
	// with one sync at the end: the sessions are written once it returns.
	var (
		records   []byte
		journaled []string
		last      journalPos
	)
	writeMany := func() {
		if j != nil {
			records = records[:0]
			var err error
			for _, t := range touches {
				if records, err = appendJournalRecord(records, t); err != nil {
					break
				}
			}
			var pos journalPos
			if err == nil {
				pos, err = j.write(records)
			}
			for _, t := range touches {
				if err != nil {
					result(t.ID, err)
				} else {
					journaled = append(journaled, t.ID)
				}
			}
			if err == nil {
				last = pos
			}
			touches = touches[:0]
			return
		}
		if cap(errs) < len(touches) {
			errs = make([]error, len(touches))
		}
		errs = errs[:len(touches)]
		clear(errs)
		ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
		bt.TouchMany(ctx, touches, errs)
		cancel()
		for i, t := range touches {
			result(t.ID, errs[i])
		}
		touches = touches[:0]
	}
	var scratch deviceScratch
	turn := false // the background writers' (BackgroundTurn), while a chunk is built
	for id := range batch {
		if many && !turn {
			BackgroundTurn()
			turn = true
		}
		e := m.index.byID(id)
		if e == nil {
			continue
		}
		// Write the index's view: it has the roam count and the newest values.
		a := Activity{At: e.s.LastSeen, Location: e.s.CurrentLocation, AP: e.s.AP,
			InputOctets: e.s.InputOctets, OutputOctets: e.s.OutputOctets, NAS: e.s.NAS}
		sealed, err := m.sealDeviceWith(&scratch, id, e.s.Device, e.s.LastSeen)
		if err != nil {
			sealed = nil // keep the stored one
		}
		if many {
			// Queued together, they share the store's group commits.
			touches = append(touches, Touch{ID: id, Activity: a, Roams: e.s.Roams, SealedDevice: sealed})
			if len(touches) == flushChunk {
				BackgroundDone()
				turn = false
				writeMany()
				time.Sleep(flushPause)
			}
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), touchTimeout)
		err = m.store.Touch(ctx, id, a, e.s.Roams, sealed)
		cancel()
		result(id, err)
	}
	if turn {
		BackgroundDone()
	}
	if len(touches) > 0 {
		writeMany()
	}
	if len(journaled) > 0 {
		err := j.syncTo(last)
		for _, id := range journaled {
			result(id, err)
		}
	}
	if len(batch) > 0 {
		m.storeResult(firstErr)
	}
	if len(failed) == 0 {
		// What was queued while this batch was written is pending.
		m.pendingMu.Lock()
		m.counters.activityPending.Store(int64(len(m.pending)))
		m.pendingMu.Unlock()
		return true
	}
	m.pendingMu.Lock()
	for _, id := range failed {
		m.pending[id] = struct{}{}
	}
	m.counters.activityPending.Store(int64(len(m.pending)))
	m.pendingMu.Unlock()
	m.log.Warn("session: store activity failed, will retry", "sessions", len(failed), "err", firstErr)
	return false
}

// Counters are the manager's running totals, for metrics.
type Counters struct {
	// ActivityWritten and ActivityFailed count background writes of
	// activity (accounting, accepted associations) to the store.
	ActivityWritten, ActivityFailed uint64
	// ActivityPending is how many sessions have activity waiting for the
	// store (non-zero while it is away).
	ActivityPending int64
	// FeedResyncs counts re-reads of a shared store after its change feed
	// was interrupted.
	FeedResyncs uint64
	// StoreUp is false while the store fails (writes, or its Ping).
	StoreUp bool
	// FailStatic counts live sessions found in the index while the store
	// was down: devices kept online from memory alone (fail-static).
	FailStatic uint64
	// ActivityBuffered counts accounting records acknowledged from the
	// pending buffer while the store was away; ActivityDropped those refused
	// because the buffer was full.
	ActivityBuffered, ActivityDropped uint64
	// StaleActivity counts reports of an association the device had left
	// (an access point still reporting it): they changed nothing.
	StaleActivity uint64
	// Displaced counts live sessions whose MAC another session took over
	// (a sign-in without their token, or a re-bind; see Create).
	Displaced uint64
	// The move journal (Options.Journal): JournalFiles is how many of its
	// files hold moves the store has not been given; Checkpoints and
	// CheckpointFailures count checkpoints, CheckpointedSessions the
	// sessions they wrote; JournalDamaged counts journal files that could
	// not be read, or ended in bytes that were not a record.
	JournalFiles int
	// CheckpointDue: a checkpoint runs, or the journal's size has asked
	// for one (for a harness that must wait for it).
	CheckpointDue                   bool
	Checkpoints, CheckpointFailures uint64
	CheckpointedSessions            uint64
	JournalDamaged                  uint64
}

type counters struct {
	activityWritten, activityFailed, feedResyncs, failStatic atomic.Uint64
	activityBuffered, activityDropped, staleActivity         atomic.Uint64
	displaced                                                atomic.Uint64
	checkpoints, checkpointFailed, checkpointed              atomic.Uint64
	journalDamaged                                           atomic.Uint64
	activityPending                                          atomic.Int64
	storeDown                                                atomic.Bool
}

// Counters returns the running totals.
func (m *Manager) Counters() Counters {
	c := Counters{
		ActivityWritten:  m.counters.activityWritten.Load(),
		ActivityFailed:   m.counters.activityFailed.Load(),
		ActivityPending:  m.counters.activityPending.Load(),
		FeedResyncs:      m.counters.feedResyncs.Load(),
		StoreUp:          !m.counters.storeDown.Load(),
		FailStatic:       m.counters.failStatic.Load(),
		ActivityBuffered: m.counters.activityBuffered.Load(),
		ActivityDropped:  m.counters.activityDropped.Load(),
		StaleActivity:    m.counters.staleActivity.Load(),
		Displaced:        m.counters.displaced.Load(),

		Checkpoints:          m.counters.checkpoints.Load(),
		CheckpointFailures:   m.counters.checkpointFailed.Load(),
		CheckpointedSessions: m.counters.checkpointed.Load(),
		JournalDamaged:       m.counters.journalDamaged.Load(),
	}
	if m.journal != nil {
		var full bool
		c.JournalFiles, full = m.journal.pendingFiles()
		c.CheckpointDue = full || m.checkpointing.Load()
	}
	return c
}

// storeResult records whether the store just worked.
func (m *Manager) storeResult(err error) {
	m.counters.storeDown.Store(err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrExists))
}

// pinger is a store that can say whether it is reachable (a shared store).
type pinger interface{ Ping(context.Context) error }

// healthLoop pings a store that can be pinged, so that StoreUp and the
// fail-static count follow an outage even when nothing is written.
func (m *Manager) healthLoop(p pinger) {
	t := time.NewTicker(2 * time.Second)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(m.stopped, time.Second)
			err := p.Ping(ctx)
			cancel()
			if m.stopped.Err() != nil {
				return // cut short by Close: says nothing about the store
			}
			m.storeResult(err)
		}
	}
}

// Revoke ends a session everywhere.
func (m *Manager) Revoke(ctx context.Context, id string) error {
	if !ValidID(id) {
		return ErrNotFound
	}
	if err := m.store.Revoke(ctx, id); err != nil {
		return fmt.Errorf("session: revoke: %w", err)
	}
	if s, ended := m.index.revoke(id); ended {
		m.ended(s, EndRevoked)
	}
	return nil
}

// EndReason says why a session ended.
type EndReason string

// End reasons.
const (
	EndRevoked EndReason = "revoked"
	EndExpired EndReason = "expired"
	EndIdle    EndReason = "idle"
)

// OnEnd registers fn to be called when a session ends by revocation (at once)
// or by lifetime or idle timeout (at the next Sweep): how RADIUS learns to
// send a Disconnect-Request. fn must not block; register before serving.
func (m *Manager) OnEnd(fn func(Session, EndReason)) {
	m.endMu.Lock()
	defer m.endMu.Unlock()
	m.onEnd = append(m.onEnd, fn)
}

func (m *Manager) ended(s Session, why EndReason) {
	m.endMu.Lock()
	fns := m.onEnd
	m.endMu.Unlock()
	for _, fn := range fns {
		fn(s, why)
	}
	m.emit(Event{Kind: EventEnd, Session: s, At: m.now(), Reason: why})
}

// EventKind says what happened to a session.
type EventKind string

// Event kinds.
const (
	EventSignIn EventKind = "signin" // a new session (not a repeated sign-in)
	EventRoam   EventKind = "roam"   // seen at another location
	EventRebind EventKind = "rebind" // moved to a new MAC
	EventEnd    EventKind = "end"    // revoked, expired or idle (Reason)
)

// Event is something that happened to a session, for statistics and
// history. Session is the state after the event.
type Event struct {
	Kind    EventKind
	Session Session
	At      time.Time
	Reason  EndReason // EventEnd only
}

// OnEvent registers fn for every Event. fn is called synchronously on the
// path that caused the event (a sign-in, an Access-Request), so it must be
// cheap and must not block: hand work off to a goroutine or a buffered
// channel. Register before serving.
func (m *Manager) OnEvent(fn func(Event)) {
	m.endMu.Lock()
	defer m.endMu.Unlock()
	m.onEvent = append(m.onEvent, fn)
}

func (m *Manager) emit(e Event) {
	m.endMu.Lock()
	fns := m.onEvent
	m.endMu.Unlock()
	for _, fn := range fns {
		fn(e)
	}
}

// Sweep drops ended sessions (lifetime over, idle, revoked) from the index and
// deletes them from the store. It returns how many left the index.
func (m *Manager) Sweep(ctx context.Context) (int, error) {
	now := m.now()
	var gone []Session
	var why []EndReason
	n := m.index.drop(func(e *entry) bool {
		return e.s.Revoked || !now.Before(e.exp) || m.idle(&e.s, now)
	}, func(e *entry) {
		switch {
		case e.s.Revoked: // announced when revoked
		case !now.Before(e.exp):
			gone, why = append(gone, e.s), append(why, EndExpired)
		default:
			gone, why = append(gone, e.s), append(why, EndIdle)
		}
	})
	for i, s := range gone {
		m.ended(s, why[i])
	}
	if _, err := m.store.DeleteEnded(ctx, now); err != nil {
		return n, fmt.Errorf("session: sweep: %w", err)
	}
	return n, nil
}

// Stats are counts of live sessions.
type Stats struct {
	Active     int
	ByLocation map[string]int
	ByNetwork  map[string]int
	// Crisis counts the live crisis sessions (Session.Crisis), also by
	// current location; they are included in Active and ByLocation too.
	Crisis           int
	CrisisByLocation map[string]int
}

// Stats counts the live sessions by current location and network.
func (m *Manager) Stats() Stats {
	now := m.now()
	st := Stats{ByLocation: map[string]int{}, ByNetwork: map[string]int{}, CrisisByLocation: map[string]int{}}
	m.index.each(func(e *entry) {
		if e.s.Revoked || !now.Before(e.exp) || m.idle(&e.s, now) {
			return
		}
		st.Active++
		st.ByLocation[e.s.CurrentLocation]++
		st.ByNetwork[e.s.Network]++
		if e.s.Crisis {
			st.Crisis++
			st.CrisisByLocation[e.s.CurrentLocation]++
		}
	})
	return st
}

// UAMSecret is the session's password for UAM logins at access points that
// ask RADIUS (PAP/CHAP): derived, never stored, and not the token. It is 16
// hex digits (64 bits) because CoovaChilli's PAP logon carries at most 16
// octets of password; guessing it means guessing 2^64 values online.
func (m *Manager) UAMSecret(id string) string {
	mac := hmac.New(sha256.New, m.uamKey)
	mac.Write([]byte(id))
	return hex.EncodeToString(mac.Sum(nil))[:16]
}

package session

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"sync/atomic"
	"time"
)

// Crisis mode opens the network to everyone during an emergency: RADIUS
// accepts every device, the portal drops its terms and shows an official
// notice, captive DNS forwards for everyone. The state is kept in the
// store (CrisisStore), so it survives restarts and reaches every gateway
// that shares the store.

// MaxCrisisDuration is how far ahead a crisis may be set to end: a switch
// nobody remembers to turn off must still turn itself off.
const MaxCrisisDuration = 7 * 24 * time.Hour

// DefaultCrisisLifetime is the lifetime of a crisis session (its RADIUS
// Session-Timeout) when Options.CrisisLifetime is zero: short, so normal
// operation returns by itself soon after the crisis ends.
const DefaultCrisisLifetime = time.Hour

// Errors of crisis mode.
var (
	// ErrNoCrisis: there is no active crisis (CrisisAdmit).
	ErrNoCrisis = errors.New("session: no crisis is active")
	// ErrInvalidCrisis wraps every validation error of SetCrisis.
	ErrInvalidCrisis = errors.New("session: invalid crisis")
)

// CrisisLink is a link in the crisis banner (the official warning app, the
// shelters' page). Its host belongs in the walled garden.
type CrisisLink struct {
	Title string `json:"title"`
	URL   string `json:"url"`
}

// Crisis is the crisis state of the roaming domain.
type Crisis struct {
	// Active is what was switched; Manager.Crisis reports it false once
	// Until has passed.
	Active bool `json:"active"`
	// Message is the banner text by language tag ("de", "en", …).
	Message map[string]string `json:"message,omitempty"`
	Links   []CrisisLink      `json:"links,omitempty"`
	// Since is when it was switched on (or off); By who switched it.
	Since time.Time `json:"since"`
	Until time.Time `json:"until,omitzero"`
	By    string    `json:"by,omitempty"`
}

// ActiveAt reports whether the crisis is active at t: switched on and not
// past its end.
func (c Crisis) ActiveAt(t time.Time) bool {
	return c.Active && t.Before(c.Until)
}

// Limits on what a crisis banner holds: it is shown on every page.
const (
	maxCrisisMessage = 1000
	maxCrisisLinks   = 8
	maxCrisisTitle   = 100
	maxCrisisURL     = 500
	maxCrisisBy      = 100
)

// Validate checks a crisis being switched on at now: Until is required, in
// the future and at most MaxCrisisDuration ahead; there is a message; links
// are absolute http(s) URLs. An inactive crisis is always valid.
func (c Crisis) Validate(now time.Time) error {
	if !c.Active {
		return nil
	}
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidCrisis, fmt.Sprintf(format, a...))
	}
	switch {
	case c.Until.IsZero():
		return bad("until is required")
	case !c.Until.After(now):
		return bad("until %s is not in the future", c.Until.UTC().Format(time.RFC3339))
	case c.Until.Sub(now) > MaxCrisisDuration:
		return bad("until %s is more than 7 days ahead", c.Until.UTC().Format(time.RFC3339))
	case len(c.By) > maxCrisisBy:
		return bad("by is longer than %d bytes", maxCrisisBy)
	}
	texts := 0
	for lang, msg := range c.Message {
		if !validLang(lang) {
			return bad("message: %q is not a language tag", lang)
		}
		if len(msg) > maxCrisisMessage {
			return bad("message.%s is longer than %d bytes", lang, maxCrisisMessage)
		}
		if strings.TrimSpace(msg) != "" {
			texts++
		}
	}
	if texts == 0 {
		return bad("a message in at least one language is required")
	}
	if len(c.Links) > maxCrisisLinks {
		return bad("at most %d links", maxCrisisLinks)
	}
	for i, l := range c.Links {
		if strings.TrimSpace(l.Title) == "" || len(l.Title) > maxCrisisTitle {
			return bad("links[%d].title must have 1 to %d bytes", i, maxCrisisTitle)
		}
		u, err := url.Parse(l.URL)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || len(l.URL) > maxCrisisURL {
			return bad("links[%d].url %q is not an absolute http(s) URL", i, l.URL)
		}
	}
	return nil
}

// validLang accepts the shape of a short language tag ("de", "pt-BR").
func validLang(s string) bool {
	if len(s) < 2 || len(s) > 8 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if (c < 'a' || c > 'z') && (c < 'A' || c > 'Z') && c != '-' {
			return false
		}
	}
	return true
}

// CrisisStore is implemented by stores that keep the crisis state; a
// shared store also announces changes to it (ChangeCrisis) on its Notifier.
type CrisisStore interface {
	SaveCrisis(ctx context.Context, c Crisis) error
	// LoadCrisis returns the saved state, or the zero Crisis if none.
	LoadCrisis(ctx context.Context) (Crisis, error)
}

// crisisState is the Manager's copy of the crisis, read on hot paths
// (every DNS query, every rejected Access-Request) without a lock.
type crisisState struct {
	cur      atomic.Pointer[Crisis]
	lifetime time.Duration
}

func (m *Manager) crisisStore() (CrisisStore, bool) {
	cs, ok := m.store.(CrisisStore)
	return cs, ok
}

// loadCrisis reads the crisis state from the store into memory.
func (m *Manager) loadCrisis(ctx context.Context) error {
	cs, ok := m.crisisStore()
	if !ok {
		return nil
	}
	c, err := cs.LoadCrisis(ctx)
	if err != nil {
		return fmt.Errorf("session: load crisis: %w", err)
	}
	prev := m.crisis.cur.Swap(&c)
	changed := prev == nil && !c.Since.IsZero() || prev != nil && (prev.Active != c.Active || !prev.Since.Equal(c.Since))
	if changed {
		m.log.Info("session: crisis state", "active", c.ActiveAt(m.now()), "since", c.Since, "until", c.Until)
	}
	return nil
}

// reloadCrisis is loadCrisis for background callers (the change feed, the
// poll of a store without one).
func (m *Manager) reloadCrisis() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := m.loadCrisis(ctx); err != nil {
		m.log.Warn("session: crisis state", "err", err)
	}
}

// crisisPollEvery is how often a store without a change feed (SQLite) is
// re-read for the crisis state, so that `roamgate crisis on` written to the
// file by another process takes effect within a second.
const crisisPollEvery = time.Second

func (m *Manager) crisisPollLoop() {
	t := time.NewTicker(crisisPollEvery)
	defer t.Stop()
	for {
		select {
		case <-m.stop:
			return
		case <-t.C:
			m.reloadCrisis()
		}
	}
}

// Crisis returns the crisis state; Active is false once Until has passed,
// whatever was stored.
func (m *Manager) Crisis() Crisis {
	p := m.crisis.cur.Load()
	if p == nil {
		return Crisis{}
	}
	c := *p
	c.Active = c.ActiveAt(m.now())
	return c
}

// CrisisActive reports whether a crisis is active now: the check of the
// DNS and RADIUS hot paths. It does no I/O.
func (m *Manager) CrisisActive() bool {
	p := m.crisis.cur.Load()
	return p != nil && p.ActiveAt(m.now())
}

// SetCrisis switches crisis mode on (c.Active) or off, for every gateway
// that shares the store. Since is set to now; the other fields are taken
// as given after Validate. It returns the state as stored.
func (m *Manager) SetCrisis(ctx context.Context, c Crisis) (Crisis, error) {
	c, err := PrepareCrisis(c, m.now())
	if err != nil {
		return Crisis{}, err
	}
	if cs, ok := m.crisisStore(); ok {
		if err := cs.SaveCrisis(ctx, c); err != nil {
			return Crisis{}, fmt.Errorf("session: save crisis: %w", err)
		}
	}
	m.crisis.cur.Store(&c)
	return c, nil
}

// PrepareCrisis validates a switch made at now and returns the state to
// store: Since is now, times are UTC, an inactive state keeps only who
// switched it off and when. Manager.SetCrisis and `roamgate crisis`, which
// writes the store with the gateway stopped, both use it.
func PrepareCrisis(c Crisis, now time.Time) (Crisis, error) {
	now = now.UTC().Truncate(time.Second)
	if err := c.Validate(now); err != nil {
		return Crisis{}, err
	}
	c.Since = now
	c.Until = c.Until.UTC()
	if !c.Active {
		c.Message, c.Links, c.Until = nil, nil, time.Time{}
	}
	return c, nil
}

// EndCrisis switches crisis mode off; by names who did.
func (m *Manager) EndCrisis(ctx context.Context, by string) (Crisis, error) {
	return m.SetCrisis(ctx, Crisis{Active: false, By: by})
}

// CrisisLifetime is the lifetime of a session admitted by CrisisAdmit.
func (m *Manager) CrisisLifetime() time.Duration { return m.crisis.lifetime }

// CrisisAdmit creates a crisis session for a device while a crisis is
// active: RADIUS accepts every device then. A device with a live session
// keeps it. Like every session created while a crisis is active, the new
// one lives CrisisLifetime and is marked Crisis.
// ErrNoCrisis when no crisis is active.
func (m *Manager) CrisisAdmit(ctx context.Context, req CreateRequest) (Session, error) {
	if !m.CrisisActive() {
		return Session{}, ErrNoCrisis
	}
	if req.HasMAC {
		if s, err := m.ByMAC(req.MAC); err == nil {
			return s, nil // the device keeps the session it has
		}
	}
	s, _, err := m.Create(ctx, req) // marks it Crisis: created during the crisis
	return s, err
}

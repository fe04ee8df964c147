// Package sessiontest gives other packages' tests a real session.Manager,
// as net/http/httptest gives them a real HTTP server: a temporary data
// directory with its site key and key ring, a SQLite store in it, and
// tokens whose issuer and audience stand in production's order (the site
// name issues them, the portal URL is their audience, as gateway.New makes
// them). Everything is closed when the test ends.
//
// It is not a stand-in: what a test sees is what a gateway does. Tests of
// the store backends use session/storetest instead.
package sessiontest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"roamgate/session"
	"roamgate/session/sqlite"
)

// The tokens' issuer and audience: a site name and the portal URL without
// its trailing slash, as gateway.New passes site.name and site.portal_url.
const (
	Issuer   = "Stadt-WLAN Test"
	Audience = "http://portal.roamgate.test"
)

// DefaultPolicy is the session policy of a Site whose Options name none.
var DefaultPolicy = session.Policy{Lifetime: 4 * time.Hour, IdleTimeout: time.Hour}

// Options change a Site; the zero value is a fresh site on the wall clock.
type Options struct {
	// Policy is the session policy; zero means DefaultPolicy.
	Policy session.Policy
	// Now is the clock of the manager, its tokens and its new keys; nil
	// means time.Now.
	Now func() time.Time
	// Logger receives the manager's log; nil discards it.
	Logger *slog.Logger
	// Dir is the data directory (site key, key ring, sessions.db); empty
	// means a new temporary one. A second Site on the same Dir is the
	// gateway restarted.
	Dir string
	// SiteKey replaces the data directory's site key.
	SiteKey []byte
	// Store replaces the SQLite store in Dir; the caller closes it.
	Store session.Store
	// Wrap, when set, wraps the store the manager gets (a failing store).
	Wrap func(session.Store) session.Store
	// CrisisLifetime is session.Options.CrisisLifetime.
	CrisisLifetime time.Duration
	// NoJournal leaves out the move journal that a site's own SQLite
	// store gets (session.Options.Journal, as gateway.New sets it), so
	// that activity goes to the store at once: for tests of the store's
	// failures under activity.
	NoJournal bool
}

// Site is a running session manager and what it was made from.
type Site struct {
	*session.Manager
	// Report is what the manager loaded from the store.
	Report session.LoadReport
	// Store is the store, unwrapped.
	Store   session.Store
	Dir     string
	SiteKey []byte
	Ring    *session.KeyRing
	Tokens  *session.Tokens
	Policy  session.Policy

	closeStore bool
	closeOnce  sync.Once
	closeErr   error
}

// NewManager is a session manager on a fresh site with DefaultPolicy.
func NewManager(t testing.TB) *session.Manager {
	t.Helper()
	return New(t, Options{}).Manager
}

// New starts a Site for t, closed when the test ends (or by Close).
func New(t testing.TB, o Options) *Site {
	t.Helper()
	if o.Dir == "" {
		o.Dir = t.TempDir()
	}
	s, err := Open(o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := s.Close(); err != nil {
			t.Errorf("sessiontest: %v", err)
		}
	})
	return s
}

// Open starts a Site in o.Dir, which must be set, for a caller that closes
// it itself: a test that restarts the site from its subtests.
func Open(o Options) (*Site, error) {
	if o.Dir == "" {
		return nil, errors.New("sessiontest: Open needs Options.Dir")
	}
	if o.Policy.Lifetime == 0 && o.Policy.IdleTimeout == 0 && o.Policy.NetworkLifetime == nil {
		o.Policy = DefaultPolicy
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	s := &Site{Dir: o.Dir, Policy: o.Policy, SiteKey: o.SiteKey, Store: o.Store}
	var err error
	if s.SiteKey == nil {
		if s.SiteKey, err = session.LoadOrCreateSiteKey(o.Dir); err != nil {
			return nil, fmt.Errorf("sessiontest: %w", err)
		}
	}
	if s.Ring, err = session.OpenKeyRing(o.Dir, o.Policy.MaxLifetime(), o.Now()); err != nil {
		return nil, fmt.Errorf("sessiontest: %w", err)
	}
	s.Tokens = session.NewTokens(s.Ring, Issuer, Audience, o.Now)
	if s.Store == nil {
		st, err := sqlite.Open(context.Background(), filepath.Join(o.Dir, "sessions.db"))
		if err != nil {
			return nil, fmt.Errorf("sessiontest: %w", err)
		}
		s.Store, s.closeStore = st, true
	}
	use := s.Store
	if o.Wrap != nil {
		use = o.Wrap(s.Store)
	}
	journal := ""
	if s.closeStore && !o.NoJournal {
		journal = o.Dir // the SQLite store of this site alone, as gateway.New does
	}
	s.Manager, s.Report, err = session.NewManager(context.Background(), session.Options{
		Store: use, Tokens: s.Tokens, SiteKey: s.SiteKey, Policy: o.Policy, Now: o.Now, Logger: o.Logger,
		CrisisLifetime: o.CrisisLifetime, Journal: journal,
	})
	if err != nil {
		if s.closeStore {
			s.Store.Close()
		}
		return nil, fmt.Errorf("sessiontest: %w", err)
	}
	return s, nil
}

// Close closes the manager (flushing what it has buffered) and then the
// store it opened; a second call returns the first one's answer.
func (s *Site) Close() error {
	s.closeOnce.Do(func() {
		s.closeErr = s.Manager.Close()
		if s.closeStore {
			if err := s.Store.Close(); err != nil && s.closeErr == nil {
				s.closeErr = err
			}
		}
	})
	return s.closeErr
}

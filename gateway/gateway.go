package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"roamgate/admin"
	"roamgate/portal"
	"roamgate/radius"
	"roamgate/session"
	"roamgate/session/sqlite"
)

// ShutdownTimeout bounds a graceful stop: every server gets this long to
// finish what it is doing after SIGINT/SIGTERM.
const ShutdownTimeout = 4 * time.Second

// sweepEvery is how often ended sessions leave the index and the store.
const sweepEvery = time.Minute

// Gateway is one running roamgate: the session manager and every server.
type Gateway struct {
	cfg   Config
	log   *slog.Logger
	store session.Store
	mgr   *session.Manager

	portal *portal.Server
	radius *radius.Server
	admin  *admin.Server

	demoPassword string
}

// Addrs are the addresses the servers listen on.
type Addrs struct {
	Portal     string
	RADIUSAuth string
	RADIUSAcct string
	Admin      string
}

// New opens the data directory, the store and the session manager and binds
// every listener. Nothing is served until Run.
func New(ctx context.Context, cfg Config, log *slog.Logger) (g *Gateway, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	g = &Gateway{cfg: cfg, log: log}
	var closers []func() error
	defer func() {
		if err != nil {
			for i := len(closers) - 1; i >= 0; i-- {
				closers[i]()
			}
		}
	}()

	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("data_dir: %w", err)
	}
	siteKey, err := session.LoadOrCreateSiteKey(cfg.DataDir)
	if err != nil {
		return nil, err
	}
	now := time.Now()
	policy := cfg.Policy()
	ring, err := session.OpenKeyRing(cfg.DataDir, policy.MaxLifetime(), now)
	if err != nil {
		return nil, err
	}
	tokens := session.NewTokens(ring, cfg.Site.Name, strings.TrimRight(cfg.Site.PortalURL, "/"), nil)

	store, err := sqlite.Open(ctx, cfg.SQLitePath())
	if err != nil {
		return nil, err
	}
	closers = append(closers, store.Close)
	g.store = store

	mgr, rep, err := session.NewManager(ctx, session.Options{
		Store: store, Tokens: tokens, SiteKey: siteKey, Policy: policy, Logger: log,
	})
	if err != nil {
		return nil, err
	}
	closers = append(closers, mgr.Close)
	g.mgr = mgr
	log.Info("sessions loaded", "live", rep.Loaded, "refused", rep.Rejected)

	loc := newLocator(cfg)

	adminCfg := cfg.Admin
	if len(adminCfg.Users) == 0 {
		password, user, err := demoAdmin(cfg.DataDir)
		if err != nil {
			return nil, err
		}
		g.demoPassword = password
		adminCfg.Users = []admin.User{user}
	}

	g.radius, err = radius.New(cfg.RADIUS, radius.Deps{
		Sessions: mgr, Locator: loc, Logger: log.With("server", "radius"),
		IdleTimeout: policy.IdleTimeout,
	})
	if err != nil {
		return nil, err
	}
	closers = append(closers, func() error { return g.radius.Shutdown(context.Background()) })
	if err := g.radius.Listen(); err != nil {
		return nil, err
	}

	g.portal, err = portal.New(cfg.Portal, portal.Deps{
		Sessions: mgr, Locator: portalLocator{loc}, JWKS: ring, SiteName: cfg.Site.Name,
		LocationNames: locationNames(cfg),
		CSRFKey:       derive(siteKey, "portal csrf"),
		Logger:        log.With("server", "portal"),
	})
	if err != nil {
		return nil, err
	}
	if err := g.portal.Listen(); err != nil {
		return nil, err
	}
	closers = append(closers, func() error { return g.portal.Shutdown(context.Background()) })

	locIDs := make([]string, len(cfg.Locations))
	for i, l := range cfg.Locations {
		locIDs[i] = l.ID
	}
	nwIDs := make([]string, len(cfg.Networks))
	for i, n := range cfg.Networks {
		nwIDs[i] = n.ID
	}
	g.admin, err = admin.New(adminCfg, admin.Deps{
		Sessions: mgr, Locations: locIDs, Networks: nwIDs, Ready: g.ready,
		Logger: log.With("server", "admin"),
	})
	if err != nil {
		return nil, err
	}
	return g, nil
}

// ready reports whether the store answers.
func (g *Gateway) ready(ctx context.Context) error {
	_, err := g.store.Get(ctx, "00000000000000000000000000000000")
	if err != nil && !errors.Is(err, session.ErrNotFound) {
		return fmt.Errorf("store: %w", err)
	}
	return nil
}

// Addrs returns where the servers listen.
func (g *Gateway) Addrs() Addrs {
	return Addrs{
		Portal:     g.portal.Addr().String(),
		RADIUSAuth: g.radius.AuthAddr().String(),
		RADIUSAcct: g.radius.AcctAddr().String(),
		Admin:      g.admin.Addr().String(),
	}
}

// DemoPassword is the generated password of the demo admin user, or "" when
// admin.users is configured.
func (g *Gateway) DemoPassword() string { return g.demoPassword }

// Manager is the session manager (for tests and tools).
func (g *Gateway) Manager() *session.Manager { return g.mgr }

// PrintBanner tells the operator where everything listens.
func (g *Gateway) PrintBanner(w io.Writer) {
	a := g.Addrs()
	fmt.Fprintf(w, "roamgate %s — %s\n", Version(), g.cfg.Site.Name)
	fmt.Fprintf(w, "  portal        http://%s/%s\n", displayAddr(a.Portal), wildcardNote(a.Portal))
	fmt.Fprintf(w, "  RADIUS auth   %s/udp\n", a.RADIUSAuth)
	fmt.Fprintf(w, "  RADIUS acct   %s/udp\n", a.RADIUSAcct)
	fmt.Fprintf(w, "  admin         http://%s/%s\n", displayAddr(a.Admin), wildcardNote(a.Admin))
	fmt.Fprintf(w, "  data          %s (store: %s)\n", g.cfg.DataDir, g.cfg.SQLitePath())
	if g.demoPassword != "" {
		fmt.Fprintf(w, "  admin login   admin / %s (demo user; set admin.users for a real site)\n", g.demoPassword)
	}
	for _, c := range g.cfg.RADIUS.Clients {
		if c.Secret == "testing123" {
			fmt.Fprintf(w, "  demo RADIUS client %s, secret testing123\n", c.CIDR)
		}
	}
	fmt.Fprintln(w, "Ctrl-C stops.")
}

// displayAddr turns a wildcard listen address into one a browser can open.
func displayAddr(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return addr
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

func wildcardNote(addr string) string {
	if displayAddr(addr) != addr {
		return " (all interfaces)"
	}
	return ""
}

// Run serves until ctx is done, then shuts every server down within
// ShutdownTimeout and closes the manager and the store. It returns the first
// server error, if any.
func (g *Gateway) Run(ctx context.Context) error {
	grp, gctx := errgroup.WithContext(ctx)
	grp.Go(func() error { return g.portal.Serve(gctx) })
	grp.Go(func() error { return g.radius.Serve(gctx) })
	grp.Go(func() error { return g.admin.Serve(gctx) })
	grp.Go(func() error {
		g.sweep(gctx)
		return nil
	})
	grp.Go(func() error {
		<-gctx.Done()
		sctx, cancel := context.WithTimeout(context.Background(), ShutdownTimeout)
		defer cancel()
		var sg errgroup.Group
		sg.Go(func() error { return g.portal.Shutdown(sctx) })
		sg.Go(func() error { return g.radius.Shutdown(sctx) })
		sg.Go(func() error { return g.admin.Shutdown(sctx) })
		if err := sg.Wait(); err != nil {
			g.log.Warn("shutdown", "err", err)
		}
		return nil
	})
	err := grp.Wait()
	g.mgr.Close()
	if cerr := g.store.Close(); cerr != nil && err == nil {
		err = cerr
	}
	g.log.Info("stopped")
	return err
}

func (g *Gateway) sweep(ctx context.Context) {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			n, err := g.mgr.Sweep(ctx)
			if err != nil {
				g.log.Warn("sweep", "err", err)
			} else if n > 0 {
				g.log.Info("sessions ended", "count", n)
			}
		}
	}
}

package gateway

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/sync/errgroup"

	"roamgate/admin"
	"roamgate/dns"
	"roamgate/history"
	"roamgate/portal"
	"roamgate/radius"
	"roamgate/session"
	"roamgate/session/redis"
	"roamgate/session/sqlite"
)

// openStore opens the configured session store.
func openStore(ctx context.Context, c StoreConfig, sqlitePath string, log *slog.Logger) (session.Store, error) {
	if c.Driver == "redis" {
		redis.SetLogger(log.With("component", "redis"))
		st, warnings, err := redis.Open(ctx, redis.Options{
			Addr: c.Redis.Addr, Username: c.Redis.Username, Password: c.Redis.Password, DB: c.Redis.DB,
			Sentinel: redis.Sentinel{MasterName: c.Redis.Sentinel.MasterName, Addrs: c.Redis.Sentinel.Addresses,
				Password: c.Redis.Sentinel.Password},
			Cluster: c.Redis.Cluster, TLS: c.Redis.tlsConfig(),
			MinReplicasAcked: c.Redis.MinReplicasAcked, ReplicaTimeout: c.Redis.ReplicaTimeout,
		})
		if err != nil {
			return nil, fmt.Errorf("store.redis: %w", err)
		}
		for _, w := range warnings {
			log.Warn(w)
		}
		log.Info("store: redis", "min_replicas_acked", st.MinReplicasAcked())
		return st, nil
	}
	return sqlite.Open(ctx, sqlitePath)
}

// csrfStorage is where the portal keeps its CSRF tokens: in the session
// store's Redis when the store is Redis, so that a form opened at one
// gateway can be posted to another (a load balancer without sticky
// sessions); nil (the portal's bounded in-memory store) otherwise.
func csrfStorage(st session.Store) fiberStorage {
	if rs, ok := st.(*redis.Store); ok {
		return rs.KV("csrf")
	}
	return nil
}

// fiberStorage is fiber.Storage, spelt out so that gateway need not import
// fiber; portal.Deps.CSRFStorage takes it as it is.
type fiberStorage interface {
	Get(key string) ([]byte, error)
	Set(key string, val []byte, exp time.Duration) error
	Delete(key string) error
	Reset() error
	Close() error
}

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
	dns    *dns.Server

	history *history.Recorder

	demoPassword string
}

// Addrs are the addresses the servers listen on.
type Addrs struct {
	Portal     string
	RADIUSAuth string
	RADIUSAcct string
	Admin      string
	DNS        string // UDP and TCP
}

// New opens the data directory, the store and the session manager and binds
// every listener (each server's Listen). Nothing is answered until Run.
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
	siteKey, ring, err := openKeys(cfg)
	if err != nil {
		return nil, err
	}
	policy := cfg.Policy()
	tokens := session.NewTokens(ring, cfg.Site.Name, strings.TrimRight(cfg.Site.PortalURL, "/"), nil)

	store, err := openStore(ctx, cfg.Store, cfg.SQLitePath(), log)
	if err != nil {
		return nil, err
	}
	closers = append(closers, store.Close)
	g.store = store

	// The runtime's GC settings are the program's (cmd/roamgate raises
	// GOGC around New, for this load): a library does not change them.
	// A store of this gateway alone (SQLite) gets the move journal beside
	// it (session/journal.go); Redis's other gateways read moves from it.
	journal := ""
	if _, ok := store.(*sqlite.Store); ok {
		journal = filepath.Dir(cfg.SQLitePath())
	}
	mgr, rep, err := session.NewManager(ctx, session.Options{
		Store: store, Tokens: tokens, SiteKey: siteKey, Policy: policy, Logger: log,
		CrisisLifetime: cfg.Crisis.SessionTimeout, Journal: journal,
	})
	if err != nil {
		return nil, err
	}
	closers = append(closers, mgr.Close)
	g.mgr = mgr
	log.Info("sessions loaded", "live", rep.Loaded, "refused", rep.Rejected, "sealed_by_older_version", rep.Upgraded,
		"moves_from_journal", rep.Journaled)

	reg := newRegistry(mgr, store)
	hist, err := history.Open(ctx, history.Options{
		Path: filepath.Join(cfg.DataDir, "history.db"), Retention: cfg.Retention,
		Registerer: reg, Logger: log.With("component", "history"),
		Checkpoints: checkpointsBy(store),
	})
	if err != nil {
		return nil, err
	}
	// Closed after the manager, whose last events it records.
	closers = append(closers[:len(closers)-1], hist.Close, mgr.Close)
	g.history = hist
	mgr.OnEvent(hist.Record)

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
		IdleTimeout: policy.IdleTimeout, Networks: bandwidths(cfg), Metrics: reg,
	})
	if err != nil {
		return nil, err
	}
	radiusServer := g.radius // the closer must not read g: a failed New returns a nil g
	closers = append(closers, func() error { return radiusServer.Shutdown(context.Background()) })
	if err := g.radius.Listen(); err != nil {
		return nil, err
	}
	// A session that ends by expiry or idle timeout is disconnected at its
	// NAS; a revocation is disconnected by whoever revoked it (the admin
	// reports the NAS's answer; the portal's sign-out, portalSessions), so
	// it is skipped here.
	mgr.OnEnd(func(s session.Session, why session.EndReason) {
		if why != session.EndRevoked {
			radiusServer.SessionEnded(s, why)
		}
	})

	g.portal, err = portal.New(cfg.Portal, portal.Deps{
		Sessions: portalSessions{mgr, radiusServer}, Locator: portalLocator{loc}, JWKS: ring, SiteName: cfg.Site.Name,
		PortalURL:     cfg.Site.PortalURL,
		LocationNames: locationNames(cfg),
		APNetworks:    apNetworks(cfg),
		VendorFor:     vendorFor(cfg),
		AccessPoints:  accessPoints(cfg),
		Reauthorizer:  reauthorizer{radiusServer},
		Crisis:        mgr,
		CSRFStorage:   csrfStorage(store),
		Registerer:    reg,
		Logger:        log.With("server", "portal"),
	})
	if err != nil {
		return nil, err
	}
	if err := g.portal.Listen(); err != nil {
		return nil, err
	}
	portalServer := g.portal
	closers = append(closers, func() error { return portalServer.Shutdown(context.Background()) })

	locIDs := make([]string, len(cfg.Locations))
	for i, l := range cfg.Locations {
		locIDs[i] = l.ID
	}
	nwIDs := make([]string, len(cfg.Networks))
	for i, n := range cfg.Networks {
		nwIDs[i] = n.ID
	}
	dnsServer, err := dns.New(cfg.DNS, dns.Deps{
		Sessions: mgr, PortalURL: cfg.Site.PortalURL, Registerer: reg, Logger: log.With("server", "dns"),
	})
	if err != nil {
		return nil, err
	}
	// The closer must not read g: a failed New returns a nil g.
	closers = append(closers, func() error { return dnsServer.Shutdown(context.Background()) })
	if err := dnsServer.Listen(); err != nil {
		return nil, err
	}
	g.dns = dnsServer

	// Both stores keep the admins' sign-outs; the check keeps a future
	// store without them from silently forgetting sign-outs at restart.
	logins, ok := store.(session.AdminStore)
	if !ok {
		return nil, fmt.Errorf("store.driver %s cannot keep admin sign-outs", cfg.Store.Driver)
	}
	g.admin, err = admin.New(adminCfg, admin.Deps{
		Sessions: mgr, Revoker: revoker{mgr, radiusServer}, Crisis: mgr, CrisisMessages: cfg.CrisisMessages(),
		History: hist, Logins: logins,
		Locations: locIDs, Networks: nwIDs, LocationNames: locationNames(cfg), Places: places(cfg),
		UnsignedClients: radiusServer.UnsignedClients(),
		TokenKey:        derive(siteKey, "admin token"), Gatherer: reg, Registerer: reg,
		Ready: g.ready, Logger: log.With("server", "admin"),
	})
	if err != nil {
		return nil, err
	}
	adminServer := g.admin
	closers = append(closers, func() error { return adminServer.Shutdown(context.Background()) })
	if err := g.admin.Listen(); err != nil {
		return nil, err
	}
	return g, nil
}

// ready reports whether the store answers.
func (g *Gateway) ready(ctx context.Context) error {
	if err := g.history.Ping(ctx); err != nil {
		return fmt.Errorf("history: %w", err)
	}
	if p, ok := g.store.(interface{ Ping(context.Context) error }); ok {
		if err := p.Ping(ctx); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		return nil
	}
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
		DNS:        g.dns.Addr().String(),
	}
}

// DemoPassword is the generated password of the demo admin user, or "" when
// admin.users is configured.
func (g *Gateway) DemoPassword() string { return g.demoPassword }

// Manager is the session manager (for tests and tools).
func (g *Gateway) Manager() *session.Manager { return g.mgr }

// RADIUS is the RADIUS server (for tests and tools: its Stats and
// ReadBatches).
func (g *Gateway) RADIUS() *radius.Server { return g.radius }

// Store is the session store (for tests and tools).
func (g *Gateway) Store() session.Store { return g.store }

// PrintBanner tells the operator where everything listens.
func (g *Gateway) PrintBanner(w io.Writer) {
	a := g.Addrs()
	fmt.Fprintf(w, "roamgate %s — %s\n", Version(), g.cfg.Site.Name)
	fmt.Fprintf(w, "  portal        http://%s/%s\n", displayAddr(a.Portal), wildcardNote(a.Portal))
	fmt.Fprintf(w, "  RADIUS auth   %s/udp\n", a.RADIUSAuth)
	fmt.Fprintf(w, "  RADIUS acct   %s/udp\n", a.RADIUSAcct)
	fmt.Fprintf(w, "  admin         http://%s/%s\n", displayAddr(a.Admin), wildcardNote(a.Admin))
	fmt.Fprintf(w, "  DNS           %s/udp+tcp (captive; upstream: %s)\n", a.DNS, upstreams(g.cfg.DNS.Upstream))
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

// server is the lifecycle the four servers share (DESIGN §2a).
type server interface {
	Serve(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Run serves until ctx is done or a server fails, then shuts every server
// down within ShutdownTimeout and closes the manager and the store. It
// returns the first server error, if any.
//
// Servers stop one way only, through Shutdown with that deadline: Serve
// gets ctx's values but not its end, so no server starts a shutdown of its
// own with a grace of its own.
func (g *Gateway) Run(ctx context.Context) error {
	servers := []struct {
		name   string
		s      server
		closed error // what its Serve returns after Shutdown
	}{
		{"portal", g.portal, portal.ErrServerClosed},
		{"radius", g.radius, radius.ErrServerClosed},
		{"dns", g.dns, dns.ErrServerClosed},
		{"admin", g.admin, admin.ErrServerClosed},
	}
	grp, gctx := errgroup.WithContext(ctx)
	serveCtx := context.WithoutCancel(ctx)
	for _, sv := range servers {
		grp.Go(func() error {
			if err := sv.s.Serve(serveCtx); !errors.Is(err, sv.closed) {
				return err // named by its package
			}
			return nil
		})
	}
	grp.Go(func() error {
		g.sweep(gctx)
		return nil
	})
	grp.Go(func() error {
		<-gctx.Done() // ctx, or a server that failed
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), ShutdownTimeout)
		defer cancel()
		var sg errgroup.Group
		for _, sv := range servers {
			sg.Go(func() error {
				if err := sv.s.Shutdown(sctx); err != nil {
					return fmt.Errorf("%s: %w", sv.name, err)
				}
				return nil
			})
		}
		if err := sg.Wait(); err != nil {
			g.log.Warn("shutdown", "err", err)
		}
		return nil
	})
	err := grp.Wait()
	g.mgr.Close()
	if herr := g.history.Close(); herr != nil && err == nil {
		err = herr
	}
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
			switch {
			case err != nil && ctx.Err() != nil:
				// Cut off by shutdown (a million sessions take seconds
				// to sweep): nothing failed, and the sessions that ended
				// are swept after the next start.
				return
			case err != nil:
				g.log.Warn("sweep", "err", err)
			case n > 0:
				g.log.Info("sessions ended", "count", n)
			}
		}
	}
}

// upstreams describes dns.upstream for the banner.
func upstreams(u []string) string {
	if len(u) == 0 {
		return "none, signed-in clients are refused; set dns.upstream"
	}
	return strings.Join(u, ", ")
}

package admin

import (
	"context"
	"crypto/rand"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/adaptor"
	"github.com/gofiber/fiber/v2/utils"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"roamgate/clientaddr"
	"roamgate/ratelimit"
)

// Server is the admin HTTP server.
type Server struct {
	cfg  Config
	deps Deps
	app  *fiber.App
	ln   net.Listener
	log  *slog.Logger
	now  func() time.Time
	m    metrics
	tok  *tokens
	view *views
	i18n *i18n

	// Password hashing is deliberately expensive (argon2id, 64 MiB); the
	// semaphore stops a flood of login attempts from exhausting memory.
	checks chan struct{}
	// Failed sign-ins are slowed down per (user name, client address) and
	// per client address (throttle.go, package ratelimit).
	pairs, addrs *ratelimit.Limiter
	proxies      clientaddr.Proxies // admin.trusted_proxies
	goodMu       sync.Mutex
	good         map[[32]byte]goodBasic

	closing   chan struct{} // closed by Shutdown: ends the event streams
	closeOnce sync.Once
}

// New checks the config, builds the server and binds its listener, so Addr
// is known at once.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	if deps.Sessions == nil {
		return nil, errors.New("admin: no sessions")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	if deps.Now == nil {
		deps.Now = time.Now
	}
	if deps.TokenKey == nil {
		// Not wired: logins then last only as long as the process.
		deps.TokenKey = make([]byte, 32)
		rand.Read(deps.TokenKey)
	}
	tok, err := newTokens(deps.TokenKey, deps.Logins, deps.Now)
	if err != nil {
		return nil, err
	}
	view, err := newViews()
	if err != nil {
		return nil, err
	}
	in, err := newI18n()
	if err != nil {
		return nil, err
	}
	proxies, err := clientaddr.ParseProxies("admin.trusted_proxies", cfg.TrustedProxies) // Validate checked them
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	if cfg.tls() {
		cert, err := tls.LoadX509KeyPair(cfg.TLSCert, cfg.TLSKey)
		if err != nil {
			ln.Close()
			return nil, fmt.Errorf("admin.tls_cert, admin.tls_key: %w", err)
		}
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s := &Server{cfg: cfg, deps: deps, ln: ln, log: deps.Logger, now: deps.Now,
		m: newMetrics(deps.Registerer), tok: tok, view: view, i18n: in, proxies: proxies,
		checks:  make(chan struct{}, 2),
		pairs:   newThrottle(deps.Now),
		addrs:   newThrottle(deps.Now),
		closing: make(chan struct{}), good: map[[32]byte]goodBasic{},
	}
	s.app = fiber.New(fiber.Config{
		AppName:               "roamgate-admin",
		DisableStartupMessage: true,
		// Values from the request outlive it (limiter keys, audit lines);
		// the admin's traffic is small, so copying them all is cheap.
		Immutable:   true,
		ReadTimeout: 10 * time.Second,
		IdleTimeout: 60 * time.Second,
		BodyLimit:   64 << 10,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				code = fe.Code
			} else {
				s.log.Error("admin: request", "path", c.Path(), "err", err)
			}
			return c.Status(code).JSON(fiber.Map{"error": utils.StatusMessage(code)})
		},
	})
	s.routes()
	return s, nil
}

// Addr is the bound listener address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Serve serves until ctx is done or the listener fails.
func (s *Server) Serve(ctx context.Context) error {
	err := s.app.Listener(s.ln)
	if err != nil && ctx.Err() == nil {
		return fmt.Errorf("admin: %w", err)
	}
	return nil
}

// Shutdown ends the live-update streams, stops accepting and waits for
// requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.closeOnce.Do(func() { close(s.closing) })
	return s.app.ShutdownWithContext(ctx)
}

func (s *Server) routes() {
	s.app.Use(s.headers)
	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	s.app.Get("/readyz", s.readyz)
	s.app.Get("/metrics", s.metrics())
	s.app.Get("/static/:name", s.static)
	s.app.Get("/login", s.loginForm)
	s.app.Post("/login", s.login)
	s.app.Post("/api/v1/token", s.apiToken)

	page := s.requireLogin(false)
	s.app.Get("/", page, s.dashboard)
	s.app.Get("/sessions", page, s.sessionsPage)
	s.app.Get("/events", page, s.events)
	s.app.Post("/logout", page, s.requireCSRF, s.logout)
	s.app.Post("/sessions/:id/revoke", page, s.requireCSRF, s.requireRole(Operator), s.revokeForm)
	s.app.Post("/crisis", page, s.requireCSRF, s.requireRole(Operator), s.crisisForm)

	api := s.app.Group("/api/v1", s.requireLogin(true))
	api.Get("/stats", s.apiStats)
	api.Get("/stats.csv", s.apiStatsCSV)
	api.Get("/sessions", s.apiSessions)
	api.Post("/sessions/:id/revoke", s.requireCSRF, s.requireRole(Operator), s.apiRevoke)
	api.Get("/crisis", s.apiCrisis)
	api.Post("/crisis", s.requireCSRF, s.requireRole(Operator), s.apiCrisisSet)
	api.Delete("/crisis", s.requireCSRF, s.requireRole(Operator), s.apiCrisisEnd)
}

// headers keeps every admin response out of caches and frames, and allows
// only our own scripts and styles.
func (s *Server) headers(c *fiber.Ctx) error {
	c.Set(fiber.HeaderCacheControl, "no-store")
	c.Set(fiber.HeaderXFrameOptions, "DENY")
	c.Set(fiber.HeaderXContentTypeOptions, "nosniff")
	c.Set(fiber.HeaderReferrerPolicy, "no-referrer")
	c.Set(fiber.HeaderContentSecurityPolicy, "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	return c.Next()
}

func (s *Server) readyz(c *fiber.Ctx) error {
	if s.deps.Ready != nil {
		ctx, cancel := context.WithTimeout(c.UserContext(), 2*time.Second)
		defer cancel()
		if err := s.deps.Ready(ctx); err != nil {
			return c.Status(fiber.StatusServiceUnavailable).SendString("not ready: " + err.Error())
		}
	}
	return c.SendString("ready")
}

// metrics serves the gateway's registry. It is not behind the login: the
// listener is loopback (or TLS) and the metrics hold counts only.
func (s *Server) metrics() fiber.Handler {
	if s.deps.Gatherer == nil {
		return func(c *fiber.Ctx) error { return fiber.ErrNotFound }
	}
	return adaptor.HTTPHandler(promhttp.HandlerFor(s.deps.Gatherer, promhttp.HandlerOpts{
		ErrorHandling: promhttp.ContinueOnError,
	}))
}

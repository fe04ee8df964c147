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

	closing chan struct{} // closed by Shutdown: ends the event streams

	mu       sync.Mutex
	ln       net.Listener
	serving  bool
	closed   bool
	shutOnce sync.Once
	shutErr  error
	shutDone chan struct{}
}

// ErrServerClosed is returned by Listen and Serve after Shutdown, and by
// Serve when it has stopped.
var ErrServerClosed = errors.New("admin: server closed")

// shutdownGrace is what Serve gives requests in flight when its context
// ends (the gateway calls Shutdown with its own deadline instead).
const shutdownGrace = 5 * time.Second

// idleWorkers is how long fasthttp keeps an idle worker goroutine, and how
// often it looks for them.
const idleWorkers = time.Second

// New checks the config and builds the server. It does not listen yet.
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
	s := &Server{cfg: cfg, deps: deps, log: deps.Logger, now: deps.Now,
		m: newMetrics(deps.Registerer), tok: tok, view: view, i18n: in, proxies: proxies,
		checks:  make(chan struct{}, 2),
		pairs:   newThrottle(deps.Now),
		addrs:   newThrottle(deps.Now),
		closing: make(chan struct{}), good: map[[32]byte]goodBasic{},
		shutDone: make(chan struct{}),
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
	// fasthttp's idle-worker cleaner sleeps this long between rounds, and
	// so outlives Shutdown by up to as much (10 s by default).
	s.app.Server().MaxIdleWorkerDuration = idleWorkers
	s.routes()
	return s, nil
}

// Listen binds cfg.Listen (with TLS when admin.tls_cert and admin.tls_key
// are set), so that Addr is known before Serve (":0" picks a free port).
// Serve calls it if it has not been called; calling it again is a no-op.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.ln != nil {
		return nil
	}
	var cert tls.Certificate
	if s.cfg.tls() {
		var err error
		if cert, err = tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey); err != nil {
			return fmt.Errorf("admin.tls_cert, admin.tls_key: %w", err)
		}
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("admin.listen: %w", err)
	}
	if s.cfg.tls() {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s.ln = ln
	return nil
}

// Addr is the address the server listens on, or nil before Listen.
func (s *Server) Addr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve listens (unless Listen was called) and serves until ctx is done or
// Shutdown is called, then returns ErrServerClosed. When ctx is done it
// shuts the server down itself, giving requests in flight a few seconds.
func (s *Server) Serve(ctx context.Context) error {
	if err := s.Listen(); err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrServerClosed
	}
	if s.serving {
		s.mu.Unlock()
		return errors.New("admin: Serve called twice")
	}
	s.serving = true
	ln := s.ln
	s.mu.Unlock()

	served := make(chan error, 1)
	go func() { served <- s.app.Listener(ln) }()
	select {
	case err := <-served:
		if s.isClosed() {
			return ErrServerClosed
		}
		// The listener failed: stop the rest, as an ended ctx would.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		s.Shutdown(sctx)
		if err == nil {
			err = errors.New("listener closed")
		}
		return fmt.Errorf("admin: serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			s.log.Warn("admin: shutdown", "err", err)
		}
		<-served
		return ErrServerClosed
	case <-s.shutDone:
		// Shutdown has closed the listener; fiber's Listener returns.
		<-served
		return ErrServerClosed
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown ends the live-update streams, stops accepting and waits for
// requests in flight until ctx ends; the port is free when it returns. It
// is safe to call more than once and concurrently with Serve; later calls
// wait for the first to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		ln := s.ln
		s.mu.Unlock()
		close(s.closing)
		// fasthttp closes the listener it serves first, then waits for
		// the connections in flight.
		err := s.app.ShutdownWithContext(ctx)
		if ln != nil {
			// A Serve that had not yet handed the listener to fiber finds
			// it closed; otherwise harmless.
			ln.Close()
		}
		if err != nil {
			s.shutErr = fmt.Errorf("admin: shutdown: %w", err)
		}
		close(s.shutDone)
	})
	select {
	case <-s.shutDone:
		return s.shutErr
	case <-ctx.Done():
		return ctx.Err()
	}
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

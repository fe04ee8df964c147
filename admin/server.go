package admin

import (
	"context"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"sort"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/utils"

	"roamgate/session"
)

// Sessions is what the admin listener needs of the session manager.
type Sessions interface {
	Stats() session.Stats
}

// Deps are the collaborators of the admin server.
type Deps struct {
	Sessions Sessions
	// Locations and Networks are the configured IDs, listed with zero counts
	// so that an empty place shows as 0, not as missing.
	Locations []string
	Networks  []string
	// Ready reports whether the gateway can serve (store reachable, all
	// listeners up); nil means always ready.
	Ready func(ctx context.Context) error
	// Logger defaults to slog.Default().
	Logger *slog.Logger
}

// Server is the admin HTTP server.
type Server struct {
	cfg  Config
	deps Deps
	app  *fiber.App
	ln   net.Listener
	log  *slog.Logger

	// Password hashing is deliberately expensive (argon2id, 64 MiB); the
	// semaphore stops a flood of login attempts from exhausting memory, and
	// the cache keeps a polling dashboard from paying it on every request.
	checks chan struct{}
	mu     sync.Mutex
	good   map[[32]byte]time.Time
}

// New builds the server and binds its listener, so Addr is known at once.
func New(cfg Config, deps Deps) (*Server, error) {
	if deps.Sessions == nil {
		return nil, errors.New("admin: no sessions")
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("admin: listen: %w", err)
	}
	s := &Server{cfg: cfg, deps: deps, ln: ln, log: deps.Logger,
		checks: make(chan struct{}, 2), good: map[[32]byte]time.Time{}}
	s.app = fiber.New(fiber.Config{
		AppName:               "roamgate-admin",
		DisableStartupMessage: true,
		ReadTimeout:           10 * time.Second,
		WriteTimeout:          10 * time.Second,
		IdleTimeout:           60 * time.Second,
		BodyLimit:             64 << 10,
		ErrorHandler: func(c *fiber.Ctx, err error) error {
			code := fiber.StatusInternalServerError
			var fe *fiber.Error
			if errors.As(err, &fe) {
				code = fe.Code
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

// Shutdown stops accepting and waits for requests in flight until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	return s.app.ShutdownWithContext(ctx)
}

func (s *Server) routes() {
	s.app.Get("/healthz", func(c *fiber.Ctx) error { return c.SendString("ok") })
	s.app.Get("/readyz", s.readyz)
	api := s.app.Group("/api/v1", s.requireUser)
	api.Get("/stats", s.stats)
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

// statsResponse is the body of GET /api/v1/stats.
type statsResponse struct {
	ActiveSessions int            `json:"active_sessions"`
	ByLocation     map[string]int `json:"by_location"`
	ByNetwork      map[string]int `json:"by_network"`
	GeneratedAt    time.Time      `json:"generated_at"`
}

func (s *Server) stats(c *fiber.Ctx) error {
	st := s.deps.Sessions.Stats()
	resp := statsResponse{
		ActiveSessions: st.Active,
		ByLocation:     withZeros(st.ByLocation, s.deps.Locations),
		ByNetwork:      withZeros(st.ByNetwork, s.deps.Networks),
		GeneratedAt:    time.Now().UTC().Truncate(time.Second),
	}
	c.Set(fiber.HeaderCacheControl, "no-store")
	return c.JSON(resp)
}

// withZeros lists every configured ID; sessions at an access point no
// location matches are counted under "unknown".
func withZeros(counts map[string]int, ids []string) map[string]int {
	out := make(map[string]int, len(ids)+1)
	for _, id := range ids {
		out[id] = 0
	}
	keys := make([]string, 0, len(counts))
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		name := k
		if name == "" {
			name = "unknown"
		}
		out[name] += counts[k]
	}
	return out
}

// requireUser checks HTTP Basic credentials against the configured users.
// (The admin issue replaces this with a login form and admin tokens.)
func (s *Server) requireUser(c *fiber.Ctx) error {
	name, password, ok := basicAuth(c.Get(fiber.HeaderAuthorization))
	if !ok || !s.authenticate(name, password) {
		c.Set(fiber.HeaderWWWAuthenticate, `Basic realm="roamgate admin", charset="UTF-8"`)
		return c.Status(fiber.StatusUnauthorized).JSON(fiber.Map{"error": "authentication required"})
	}
	return c.Next()
}

const goodFor = 5 * time.Minute

func (s *Server) authenticate(name, password string) bool {
	var user *User
	for i := range s.cfg.Users {
		if subtle.ConstantTimeCompare([]byte(s.cfg.Users[i].Name), []byte(name)) == 1 {
			user = &s.cfg.Users[i]
		}
	}
	if user == nil {
		return false
	}
	key := sha256.Sum256([]byte(user.PasswordHash + "\x00" + password))
	now := time.Now()
	s.mu.Lock()
	until, cached := s.good[key]
	s.mu.Unlock()
	if cached && now.Before(until) {
		return true
	}
	s.checks <- struct{}{}
	ok := checkPassword(user.PasswordHash, password)
	<-s.checks
	if ok {
		s.mu.Lock()
		for k, t := range s.good {
			if now.After(t) {
				delete(s.good, k)
			}
		}
		s.good[key] = now.Add(goodFor)
		s.mu.Unlock()
	}
	return ok
}

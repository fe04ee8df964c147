package portal

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"maps"
	"mime"
	"net"
	"net/netip"
	"path"
	"runtime/debug"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/gofiber/fiber/v2/middleware/compress"
	"github.com/gofiber/fiber/v2/middleware/recover"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/text/language"

	"roamgate/assets"
	"roamgate/clientaddr"
	"roamgate/portal/vendor"
	"roamgate/session"
)

// Sessions is what the portal needs from session.Manager.
type Sessions interface {
	// Create signs a device in and returns its session and token.
	Create(ctx context.Context, req session.CreateRequest) (session.Session, string, error)
	// FromToken returns the live session of a token.
	FromToken(token string) (session.Session, error)
	// ByMAC returns the live session of a device address.
	ByMAC(mac session.MAC) (session.Session, error)
	// ByIP returns the live session of a client address (OS probes carry
	// no cookie).
	ByIP(ip netip.Addr) (session.Session, error)
	// Rebind moves the session of token to a new MAC and returns the new
	// token: a returning device.
	Rebind(ctx context.Context, token string, mac session.MAC) (session.Session, string, error)
	// Revoke ends a session (the status page's sign-out).
	Revoke(ctx context.Context, id string) error
	// TimeLeft is how long s has until it ends.
	TimeLeft(s session.Session) time.Duration
	// UAMSecret is the session's password for UAM logins at access points.
	UAMSecret(id string) string
}

// Reauthorizer asks an access point to re-authorise a device that has just
// signed in, so that its MAC authentication now succeeds (RFC 5176
// CoA-Request, or a Disconnect-Request so the device reassociates). The
// gateway wires radius's CoA client to it.
type Reauthorizer interface {
	// Reauthorize addresses the NAS that last reported s or, when none
	// has (the device's MAC authentication was rejected before it signed
	// in), the one the device arrived through. An access point that
	// cannot be asked (no CoA) is not an error.
	Reauthorize(ctx context.Context, s session.Session, at NASHint) error
}

// NASHint is what an arrival tells about the access point a device came
// through: untrusted parameters, which RADIUS only uses to pick among the
// NASes it knows.
type NASHint struct {
	// ID is the NAS-Identifier the access point sent (nas_id, nasid).
	ID string
	// AP is the access point's MAC, when HasAP.
	AP    session.MAC
	HasAP bool
	// Addr is where the request came from when that is an access-point
	// network (the access point NATs its clients), else the host of the
	// arrival's login URL if it is an address there; invalid if neither.
	Addr netip.Addr
}

// Locator names the location and network a device arrived at.
type Locator interface {
	// Locate returns the IDs of the location and network for an arrival:
	// the NAS identifier, AP MAC and SSID the access point reported (each
	// possibly empty) and the address the portal saw the request come from
	// (the client, or the access point when it NATs). Empty strings mean
	// unknown.
	Locate(nasID, apMAC, ssid string, ip netip.Addr) (location, network string)
}

// JWKS supplies the public keys that verify session tokens (session.KeyRing).
type JWKS interface {
	JWKS() session.JWKS
}

// Deps are the portal's collaborators.
type Deps struct {
	// Sessions creates and finds sessions. Required.
	Sessions Sessions
	// JWKS supplies /.well-known/jwks.json. Required.
	JWKS JWKS
	// Locator maps arrivals to locations and networks. Optional: without it
	// sessions have no location.
	Locator Locator
	// LocationNames maps location IDs to the names shown to citizens; an ID
	// without a name is shown as it is. Optional.
	LocationNames map[string]string
	// SiteName is shown on every page. Default "roamgate".
	SiteName string
	// CSRFStorage keeps the CSRF tokens of fiber's csrf middleware.
	// Optional: nil is a bounded in-process store (see maxCSRFTokens), so
	// gateways behind one load balancer need a shared one (fiber's redis
	// storage), or a form opened on one gateway is refused once by another.
	CSRFStorage fiber.Storage
	// Logger receives server errors (5xx, panics). Default slog.Default().
	Logger *slog.Logger
	// PortalURL is the public URL of the portal (site.portal_url): where
	// probes and foreign hosts are redirected, and the RFC 8908
	// user-portal-url. Optional: without it redirects stay on the host the
	// request named.
	PortalURL string
	// APNetworks are the networks of the access points (the RADIUS
	// clients' CIDRs): the only addresses an access point's login URL may
	// point at.
	APNetworks []netip.Prefix
	// VendorFor names the vendor of the access point at an address (the
	// RADIUS client's vendor), or "" if unknown. Optional.
	VendorFor func(ap netip.Addr) string
	// AccessPoints are the RADIUS clients as the portal sees them: their
	// networks with UAM secret, signature requirement and location (the
	// gateway builds them from radius.clients). portal.opennds.gateways
	// are added to them. Optional.
	AccessPoints []vendor.AccessPoint
	// Reauthorizer re-authorises MAC-auth devices after sign-in. Optional:
	// without it mac-auth devices wait for their next association.
	Reauthorizer Reauthorizer
	// Registerer receives the portal's metrics (roamgate_portal_…).
	// Optional: nil registers nothing.
	Registerer prometheus.Registerer
	// Crisis reports crisis mode (see crisis.go). Optional: nil is never.
	Crisis CrisisSource
}

// Fiber settings. The portal serves small pages to phones: short timeouts
// and a small body limit leave little for a slow or hostile client to hold.
const (
	readTimeout    = 10 * time.Second
	writeTimeout   = 10 * time.Second
	idleTimeout    = 60 * time.Second
	bodyLimit      = 16 << 10 // a sign-in form is well under 4 KiB
	readBufferSize = 8 << 10  // request line and headers: vendor redirects can be long
	createTimeout  = 5 * time.Second
	shutdownGrace  = 5 * time.Second // Serve's, when its ctx ends
	// idleWorkers is how long fasthttp keeps an idle worker goroutine for
	// the next connection, and how often it looks for them.
	idleWorkers = time.Second
)

// ErrServerClosed is returned by Listen and Serve after Shutdown, and by
// Serve when it has stopped.
var ErrServerClosed = errors.New("portal: server closed")

// Server is the portal's HTTP server.
type Server struct {
	cfg      Config
	deps     Deps
	log      *slog.Logger
	app      *fiber.App
	pages    *assets.Pages
	catalogs map[string]*assets.Catalog
	terms    map[string]terms
	matcher  language.Matcher
	proxies  clientaddr.Proxies
	css      string
	stepJS   string
	logo     string
	static   map[string]staticFile
	stats    counters
	vendors  vendor.Config
	wifi4eu  map[string]*wifi4eu // by language; nil without a network identifier
	portal   *portalURL
	limits   limits
	limitKey []byte
	forms    formLedger // the CSRF storage, if it bounds each client's share

	mu       sync.Mutex
	ln       net.Listener
	serving  bool
	closed   bool
	shutOnce sync.Once
	shutErr  error
	shutDone chan struct{}
}

// New checks cfg and deps and builds the server. It does not listen yet.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	// The server keeps no reference to the caller's slices and maps.
	cfg.Languages = slices.Clone(cfg.Languages)
	cfg.Terms = maps.Clone(cfg.Terms)
	cfg.TrustedProxies = slices.Clone(cfg.TrustedProxies)
	deps.LocationNames = maps.Clone(deps.LocationNames)
	if deps.Sessions == nil || deps.JWKS == nil {
		return nil, errors.New("portal: Deps.Sessions and Deps.JWKS are required")
	}
	if deps.SiteName == "" {
		deps.SiteName = "roamgate"
	}
	if deps.Logger == nil {
		deps.Logger = slog.Default()
	}
	s := &Server{
		cfg: cfg, deps: deps, log: deps.Logger,
		catalogs: make(map[string]*assets.Catalog, len(cfg.Languages)),
		terms:    make(map[string]terms, len(cfg.Languages)),
		shutDone: make(chan struct{}),
	}
	var err error
	if s.pages, err = assets.ParsePages(); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	tags := make([]language.Tag, len(cfg.Languages))
	for i, l := range cfg.Languages {
		cat, err := assets.Messages(l)
		if err != nil {
			return nil, fmt.Errorf("portal: %w", err)
		}
		s.catalogs[l] = cat
		tags[i] = language.MustParse(l) // Validate parsed it
		s.terms[l] = termsFor(cfg.Terms[l], cat)
	}
	s.matcher = language.NewMatcher(tags)
	if s.proxies, err = clientaddr.ParseProxies("portal.trusted_proxies", cfg.TrustedProxies); err != nil {
		return nil, err
	}
	if deps.CSRFStorage == nil {
		store := newBoundedStore(maxCSRFTokens, time.Now)
		s.deps.CSRFStorage = store
		if err := registerCSRFStore(deps.Registerer, store); err != nil {
			return nil, err
		}
	}
	// The per-client share of pending forms protects the store from one
	// client: the built-in one from eviction of everyone's forms, the
	// session store's Redis from growing without end. A storage without a
	// ledger has no such bound.
	s.forms, _ = s.deps.CSRFStorage.(formLedger)
	if s.portal, err = parsePortalURL(deps.PortalURL); err != nil {
		return nil, err
	}
	s.vendors = vendor.Config{
		APNetworks: slices.Clone(deps.APNetworks), LoginHosts: slices.Clone(cfg.LoginHosts),
		AccessPoints:   slices.Clone(deps.AccessPoints),
		CoovaUAMSecret: cfg.Coova.UAMSecret, CoovaPAP: cfg.Coova.PAP, OpenNDSKey: cfg.OpenNDS.FASKey,
	}
	s.vendors.AccessPoints = append(s.vendors.AccessPoints, openNDSGateways(cfg.OpenNDS)...)
	for _, g := range cfg.OpenNDS.Gateways {
		p, _ := parseNetwork(g.CIDR) // validated
		s.vendors.APNetworks = append(s.vendors.APNetworks, p)
	}
	if err := s.controllers(cfg); err != nil {
		return nil, err
	}
	s.wifi4eu = newWiFi4EU(cfg.WiFi4EU, cfg.Languages)
	s.limitKey = make([]byte, 32)
	if _, err := rand.Read(s.limitKey); err != nil {
		return nil, fmt.Errorf("portal: %w", err)
	}
	s.limits = newLimits(connectsPerClient, connectsPerMAC, limitWindow)
	if err := s.stats.register(deps.Registerer); err != nil {
		return nil, err
	}
	if s.static, err = loadStatic(assets.Static); err != nil {
		return nil, err
	}
	s.css = "/static/style.css?v=" + assets.Version("style.css")
	s.stepJS = "/static/step.js?v=" + assets.Version("step.js")
	s.logo = "/static/wifi4eu.svg?v=" + assets.Version("wifi4eu.svg")

	s.app = fiber.New(fiber.Config{
		Prefork:               false,
		BodyLimit:             bodyLimit,
		ReadBufferSize:        readBufferSize,
		ReadTimeout:           readTimeout,
		WriteTimeout:          writeTimeout,
		IdleTimeout:           idleTimeout,
		DisableStartupMessage: true,
		ErrorHandler:          s.handleError,
		// Fiber's own helpers (Protocol, Hostname, IP) then ignore proxy
		// headers from anyone else; the portal reads them itself.
		EnableTrustedProxyCheck: true,
		TrustedProxies:          s.proxies.Strings(),
	})
	// Checked before a body is read (framing.go).
	s.app.Server().HeaderReceived = headerReceived
	// fasthttp's idle-worker cleaner sleeps this long between rounds, and
	// so outlives Shutdown by up to as much (10 s by default).
	s.app.Server().MaxIdleWorkerDuration = idleWorkers
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	s.app.Use(recover.New(recover.Config{
		EnableStackTrace: true,
		StackTraceHandler: func(c *fiber.Ctx, e any) {
			s.log.Error("portal: panic", "path", strings.Clone(c.Path()), "panic", e, "stack", string(debug.Stack()))
		},
	}))
	s.app.Use(s.refuseAmbiguousFraming)
	s.app.Use(func(c *fiber.Ctx) error {
		setSecurityHeaders(c)
		return c.Next()
	})
	// Pages and the style sheet go out compressed: phones on a busy
	// access point pay for every byte (the 25 KB budget, BENCHMARKS.md).
	s.app.Use(compress.New(compress.Config{Level: compress.LevelBestSpeed}))
	// OS probes and foreign hosts first: captive DNS sends every name here.
	s.app.Use(s.handleProbes)
	protect := s.csrfMiddleware()
	limit := s.limitClient
	s.app.Get("/", protect, s.handleSplash)
	// A UniFi controller sends the browser to its own guest portal path
	// with the portal's host: /guest/s/<site>/?ap=…&id=…
	s.app.Get("/guest/s/:site", protect, s.handleSplash)
	s.app.Post("/connect", limit, protect, s.handleConnect)
	s.app.Post("/continue", limit, protect, s.handleContinue)
	s.app.Get("/status", protect, s.handleStatus)
	s.app.Post("/status/disconnect", protect, s.handleDisconnect)
	s.app.Get("/api/captive", s.handleCaptiveAPI)
	s.app.Get("/.well-known/jwks.json", s.handleJWKS)
	s.app.Get("/healthz", s.handleHealth)
	s.app.Get("/static/:name", s.handleStatic)
}

// App returns the fiber app, for in-process tests (App().Test).
func (s *Server) App() *fiber.App { return s.app }

// Listen binds cfg.Listen, so that Addr is known before Serve (":0" picks a
// free port). Serve calls it if it has not been called; calling it again is
// a no-op.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.ln != nil {
		return nil
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("portal.listen: %w", err)
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
		return errors.New("portal: Serve called twice")
	}
	s.serving = true
	ln := s.ln
	s.mu.Unlock()

	served := make(chan error, 1)
	limited := newConnLimiter(ln, s.cfg.MaxConnsPerClient, s.proxies.Trusted, func() { s.stats.connsRefused.Add(1) })
	go func() { served <- s.app.Listener(limited) }()
	select {
	case err := <-served:
		if s.isClosed() {
			return ErrServerClosed // Shutdown closed the listener
		}
		// The listener failed: stop the rest, as an ended ctx would.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		s.Shutdown(sctx)
		if err == nil {
			err = errors.New("listener closed")
		}
		return fmt.Errorf("portal: serve: %w", err)
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			s.log.Warn("portal: shutdown", "err", err)
		}
		<-served
		return ErrServerClosed
	}
}

func (s *Server) isClosed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.closed
}

// Shutdown stops accepting connections and waits for requests in flight
// until ctx is done; the port is free when it returns. It is safe to call
// more than once and concurrently with Serve; later calls wait for the
// first to finish.
func (s *Server) Shutdown(ctx context.Context) error {
	s.shutOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		ln := s.ln
		s.mu.Unlock()
		// fasthttp closes the listener it serves first, then waits for
		// the connections in flight.
		err := s.app.ShutdownWithContext(ctx)
		if ln != nil {
			// A Serve that had not yet handed the listener to fiber finds
			// it closed; otherwise harmless.
			ln.Close()
		}
		if err != nil {
			s.shutErr = fmt.Errorf("portal: shutdown: %w", err)
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

// staticFile is a file of assets.Static, ready to send.
type staticFile struct {
	body        []byte
	contentType string
	version     string
}

func loadStatic(fsys fs.FS) (map[string]staticFile, error) {
	files := map[string]staticFile{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		ct := mime.TypeByExtension(path.Ext(name))
		if ct == "" {
			ct = "application/octet-stream"
		}
		files[name] = staticFile{body: body, contentType: ct, version: assets.Version(name)}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("portal: static files: %w", err)
	}
	return files, nil
}

// controllers builds the clients of the configured UniFi and Omada
// controllers. A controller whose certificate is not checked is logged as a
// warning: the portal's account password then travels unprotected.
func (s *Server) controllers(cfg Config) error {
	if cfg.UniFi.URL != "" {
		key := "portal.unifi"
		tc, err := vendor.ControllerTLS{CAFile: cfg.UniFi.CAFile, InsecureSkipVerify: cfg.UniFi.InsecureSkipVerify}.Config()
		if err != nil {
			return fmt.Errorf("%s.ca_file: %w", key, err)
		}
		uc, err := vendor.NewUniFiClient(vendor.UniFiOptions{
			ControllerOptions: vendor.ControllerOptions{
				URL: cfg.UniFi.URL, Username: cfg.UniFi.Username, Password: cfg.UniFi.Password, TLS: tc, Timeout: createTimeout,
			},
			Site: cfg.UniFi.Site, UniFiOS: cfg.UniFi.UniFiOS,
		})
		if err != nil {
			return fmt.Errorf("%s.url: %w", key, err)
		}
		s.vendors.UniFi = uc
		s.warnInsecure(key, cfg.UniFi.URL, cfg.UniFi.InsecureSkipVerify)
	}
	if cfg.Omada.URL != "" {
		key := "portal.omada"
		tc, err := vendor.ControllerTLS{CAFile: cfg.Omada.CAFile, InsecureSkipVerify: cfg.Omada.InsecureSkipVerify}.Config()
		if err != nil {
			return fmt.Errorf("%s.ca_file: %w", key, err)
		}
		oc, err := vendor.NewOmadaClient(vendor.OmadaOptions{
			ControllerOptions: vendor.ControllerOptions{
				URL: cfg.Omada.URL, Username: cfg.Omada.Username, Password: cfg.Omada.Password, TLS: tc, Timeout: createTimeout,
			},
			ControllerID: cfg.Omada.ControllerID, TimeUnit: omadaTimeUnits[cfg.Omada.TimeUnit],
		})
		if err != nil {
			return fmt.Errorf("%s.url: %w", key, err)
		}
		s.vendors.Omada = oc
		s.warnInsecure(key, cfg.Omada.URL, cfg.Omada.InsecureSkipVerify)
	}
	return nil
}

func (s *Server) warnInsecure(key, rawURL string, insecure bool) {
	switch {
	case insecure:
		s.log.Warn("portal: the controller's TLS certificate is NOT verified ("+key+".insecure_skip_verify: true); "+
			"anyone on the path can read the controller account's password — set "+key+".ca_file to the controller's certificate instead",
			"controller", rawURL)
	case strings.HasPrefix(strings.ToLower(rawURL), "http:"):
		s.log.Warn("portal: the controller is reached over plain http ("+key+".url); its account password travels unencrypted",
			"controller", rawURL)
	}
}

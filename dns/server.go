package dns

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/prometheus/client_golang/prometheus"

	// The plugins roamgate's Corefiles use, imported one by one: never
	// core/plugin, which links every CoreDNS plugin and the cloud SDKs.
	_ "github.com/coredns/coredns/plugin/bind"
	_ "github.com/coredns/coredns/plugin/cache"
	_ "github.com/coredns/coredns/plugin/errors"
	_ "github.com/coredns/coredns/plugin/forward"
	_ "github.com/coredns/coredns/plugin/log"
)

// directives is the plugin chain, in the order a query passes it: captive
// before cache and forward, because the cache does not key on the client.
// The benchmark adds template (its baseline) in its own test file, so that
// the template plugin and the expression engine it pulls in are linked into
// the test binary only, never into roamgate.
var directives = []string{"bind", "errors", "log", "captive", "cache", "forward"}

var registerOnce = sync.OnceValue(func() error {
	if err := dnsserver.SetDirectives(directives); err != nil {
		return err
	}
	// Both print a banner to stdout by default; the gateway prints its own.
	caddy.Quiet = true
	dnsserver.Quiet = true
	if err := dnsserver.Register(); err != nil {
		return err
	}
	// After the last directive every plugin is set up (core.go).
	caddy.RegisterParsingCallback("dns", directives[len(directives)-1], built)
	return nil
})

// Deps are the DNS server's collaborators.
type Deps struct {
	// Sessions is the session index (session.Manager).
	Sessions Sessions
	// PortalURL is the portal's public URL; its host (which also serves
	// the RFC 8908 API) joins the walled garden when it is a name.
	PortalURL string
	// Registerer gets the server's metrics; nil does not register them.
	Registerer prometheus.Registerer
	// Logger gets start and stop messages.
	Logger *slog.Logger
}

// ErrServerClosed is returned by Listen and Serve after Shutdown, and by
// Serve when it has stopped.
var ErrServerClosed = errors.New("dns: server closed")

// shutdownGrace is what Serve gives the queries in hand when its context
// ends (the gateway calls Shutdown with its own deadline instead).
const shutdownGrace = 5 * time.Second

// Server is the embedded CoreDNS: New, Listen, Serve, Shutdown.
type Server struct {
	cfg      Config
	log      *slog.Logger
	bindName string
	metrics  *Metrics
	captive  captiveConfig
	listen   netip.AddrPort

	configs []*dnsserver.Config // told by the captive plugin, in Listen

	mu       sync.Mutex
	core     *coreDNS // from Listen on
	addr     netip.AddrPort
	serving  bool
	closed   bool
	done     chan struct{} // closed when Shutdown begins
	ended    chan error    // the serving goroutines' ends
	stopOnce sync.Once
	stopped  chan struct{} // closed when Shutdown has finished
	stopErr  error
}

var instances atomic.Uint64

// New checks the config and prepares the server; nothing listens yet.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Sessions == nil {
		return nil, errors.New("dns: no session index")
	}
	if err := registerOnce(); err != nil {
		return nil, fmt.Errorf("dns: %w", err)
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	m, err := NewMetrics(deps.Registerer)
	if err != nil {
		return nil, fmt.Errorf("dns: metrics: %w", err)
	}
	s := &Server{cfg: cfg, log: log, metrics: m,
		done: make(chan struct{}), ended: make(chan error, 2), stopped: make(chan struct{})}
	s.listen, _ = netip.ParseAddrPort(cfg.Listen)
	s.captive = captiveConfig{ttl: uint32(cfg.TTL), garden: append([]string{}, cfg.WalledGarden...),
		limits: Limits{Rate: cfg.RateLimit, Burst: cfg.RateBurst, GardenMaxResponse: cfg.GardenMaxResponse}}
	s.captive.v4, _ = netip.ParseAddr(cfg.PortalIP)
	if cfg.PortalIPv6 != "" {
		s.captive.v6, _ = netip.ParseAddr(cfg.PortalIPv6)
	}
	if u, err := url.Parse(deps.PortalURL); err == nil && u.Hostname() != "" {
		if _, ok := canonicalName(u.Hostname()); ok {
			s.captive.garden = append(s.captive.garden, u.Hostname())
		}
	}
	s.bindName = "roamgate-" + strconv.FormatUint(instances.Add(1), 10)
	s.captive.sessions = s.bindName
	// The plugin's setup runs within Listen, on its goroutine.
	bindings.Store(s.bindName, binding{sessions: deps.Sessions, metrics: m,
		setUp: func(c *dnsserver.Config) { s.configs = append(s.configs, c) }})
	return s, nil
}

// Metrics are the server's counters.
func (s *Server) Metrics() *Metrics { return s.metrics }

// Corefile is the configuration CoreDNS runs, for the given port.
func (s *Server) Corefile(port uint16) string {
	var b strings.Builder
	fmt.Fprintf(&b, "dns://.:%d {\n\tbind %s\n\terrors\n", port, s.listen.Addr())
	if s.cfg.QueryLog {
		// The client address is personal data: the format leaves it out.
		b.WriteString("\tlog . \"{type} {name} {rcode} {size} {duration}\"\n")
	}
	c := s.captive
	fmt.Fprintf(&b, "\tcaptive {\n\t\tsessions %s\n\t\tportal_ip %s\n", c.sessions, c.v4)
	if c.v6.IsValid() {
		fmt.Fprintf(&b, "\t\tportal_ipv6 %s\n", c.v6)
	}
	fmt.Fprintf(&b, "\t\tttl %d\n", c.ttl)
	if len(c.garden) > 0 {
		fmt.Fprintf(&b, "\t\twalled_garden %s\n", strings.Join(c.garden, " "))
	}
	if c.limits.Rate > 0 {
		fmt.Fprintf(&b, "\t\trate_limit %d %d\n", c.limits.Rate, c.limits.Burst)
	} else {
		b.WriteString("\t\trate_limit 0\n")
	}
	fmt.Fprintf(&b, "\t\tgarden_max_response %d\n", c.limits.GardenMaxResponse)
	b.WriteString("\t}\n")
	if len(s.cfg.Upstream) > 0 {
		if s.cfg.CacheSize > 0 {
			fmt.Fprintf(&b, "\tcache {\n\t\tsuccess %d\n\t\tdenial %d\n\t}\n", s.cfg.CacheSize, s.cfg.CacheSize)
		}
		ups := make([]string, len(s.cfg.Upstream))
		for i, u := range s.cfg.Upstream {
			ap, _ := upstreamAddr(u)
			ups[i] = ap.String()
		}
		fmt.Fprintf(&b, "\tforward . %s\n", strings.Join(ups, " "))
	}
	b.WriteString("}\n")
	return b.String()
}

// Listen binds the configured address over UDP and TCP (with port 0, a port
// free for both) and sets CoreDNS up to serve them; nothing is answered
// before Serve. Serve calls it if it has not been called; calling it again
// is a no-op.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.core != nil {
		return nil
	}
	ln, pc, err := bindUDPTCP(s.listen)
	if err != nil {
		return fmt.Errorf("dns.listen: %w", err)
	}
	port := uint16(ln.Addr().(*net.TCPAddr).Port)
	s.configs = nil
	core, err := buildCore(s.Corefile(port), ln, pc)
	if err != nil {
		ln.Close()
		pc.Close()
		return fmt.Errorf("dns: %w", err)
	}
	core.configs = s.configs
	s.core = core
	s.addr = netip.AddrPortFrom(s.listen.Addr(), port)
	return nil
}

// Addr is where the server answers (UDP and TCP), valid after Listen.
func (s *Server) Addr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve listens (unless Listen was called) and answers queries until ctx is
// done or Shutdown is called, then returns ErrServerClosed. When ctx is
// done it shuts the server down itself, giving the queries in hand a few
// seconds.
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
		return errors.New("dns: Serve called twice")
	}
	s.serving = true
	err := s.core.start()
	if err == nil {
		s.core.serve(s.ended)
	}
	s.mu.Unlock()

	stop := func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			s.log.Warn("shutdown", "err", err)
		}
	}
	if err != nil {
		stop()
		return fmt.Errorf("dns: start: %w", err)
	}
	s.log.Info("serving", "addr", s.addr.String(), "proto", "udp+tcp")
	select {
	case <-ctx.Done():
		stop()
	case <-s.done:
	case err := <-s.ended:
		if s.stopping() {
			break // Shutdown ended it
		}
		stop()
		if err == nil {
			err = errors.New("stopped")
		}
		return fmt.Errorf("dns: serve: %w", err)
	}
	return ErrServerClosed
}

// stopping reports whether Shutdown has begun.
func (s *Server) stopping() bool {
	select {
	case <-s.done:
		return true
	default:
		return false
	}
}

// Shutdown stops CoreDNS: the server finishes the queries in hand, the
// sockets are closed, the plugins' shutdown callbacks run. It waits for
// that until ctx is done; the port is free when it returns either way. It
// is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stopOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		close(s.done)
		core := s.core
		s.mu.Unlock()
		go func() {
			if core != nil {
				if err := core.stop(); err != nil {
					s.stopErr = fmt.Errorf("dns: shutdown: %w", err)
				}
				s.log.Info("stopped")
			}
			bindings.Delete(s.bindName)
			close(s.stopped)
		}()
	})
	select {
	case <-s.stopped:
		return s.stopErr
	case <-ctx.Done():
		s.mu.Lock()
		if s.core != nil {
			s.core.closeSockets() // out of time: free the port now
		}
		s.mu.Unlock()
		return fmt.Errorf("dns: shutdown: %w", ctx.Err())
	}
}

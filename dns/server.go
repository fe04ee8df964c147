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
	return dnsserver.Register()
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

// Server is the embedded CoreDNS: New, Listen, Serve, Shutdown.
type Server struct {
	cfg      Config
	log      *slog.Logger
	bindName string
	metrics  *Metrics
	captive  captiveConfig
	listen   netip.AddrPort

	mu   sync.Mutex
	inst *caddy.Instance
	addr netip.AddrPort
	done chan struct{}
	stop sync.Once
	serr error
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
	s := &Server{cfg: cfg, log: log, metrics: m, done: make(chan struct{})}
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
	bindings.Store(s.bindName, binding{sessions: deps.Sessions, metrics: m})
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

// Listen starts CoreDNS on the configured address, UDP and TCP. With port 0
// it picks a port free for both.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.inst != nil {
		return errors.New("dns: already listening")
	}
	var lastErr error
	for range 5 { // a free port can be taken between probing and binding
		port := s.listen.Port()
		if port == 0 {
			p, err := freePort(s.listen.Addr())
			if err != nil {
				return fmt.Errorf("dns.listen: %w", err)
			}
			port = p
		}
		inst, err := startCorefile(s.Corefile(port))
		if err == nil {
			s.inst = inst
			s.addr = netip.AddrPortFrom(s.listen.Addr(), port)
			// caddy.Start returns before CoreDNS's serve goroutines have
			// registered their servers, and a Stop in that window would
			// miss them: Listen returns once both transports answer.
			if err := waitServing(s.addr, readyTimeout); err != nil {
				s.log.Warn("not answering yet", "addr", s.addr.String(), "err", err)
			}
			s.log.Info("listening", "addr", s.addr.String(), "proto", "udp+tcp")
			return nil
		}
		lastErr = err
		if s.listen.Port() != 0 {
			break
		}
	}
	return fmt.Errorf("dns.listen %s: %w", s.cfg.Listen, lastErr)
}

// startCorefile runs CoreDNS on a Corefile.
func startCorefile(corefile string) (*caddy.Instance, error) {
	if err := registerOnce(); err != nil {
		return nil, err
	}
	return caddy.Start(caddy.CaddyfileInput{Contents: []byte(corefile), Filepath: "roamgate", ServerTypeName: "dns"})
}

// freePort finds a port on addr that is free for both TCP and UDP.
func freePort(addr netip.Addr) (uint16, error) {
	for range 20 {
		l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(netip.AddrPortFrom(addr, 0)))
		if err != nil {
			return 0, err
		}
		port := uint16(l.Addr().(*net.TCPAddr).Port)
		u, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(addr, port)))
		l.Close()
		if err == nil {
			u.Close()
			return port, nil
		}
	}
	return 0, errors.New("no port free for both UDP and TCP")
}

// Addr is where the server answers (UDP and TCP), valid after Listen.
func (s *Server) Addr() netip.AddrPort {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.addr
}

// Serve waits until ctx is done or the server is shut down: CoreDNS serves
// from Listen on, in its own goroutines.
func (s *Server) Serve(ctx context.Context) error {
	s.mu.Lock()
	started := s.inst != nil
	s.mu.Unlock()
	if !started {
		return errors.New("dns: Serve before Listen")
	}
	select {
	case <-ctx.Done():
	case <-s.done:
	}
	return nil
}

// Shutdown stops CoreDNS: shutdown callbacks, then every server (which
// finishes its queries), then waits until its goroutines are gone; the
// port is free when it returns nil. It is safe to call more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop.Do(func() {
		s.mu.Lock()
		inst := s.inst
		s.mu.Unlock()
		bindings.Delete(s.bindName)
		if inst == nil {
			close(s.done)
			return
		}
		stopped := make(chan error, 1)
		go func() {
			errs := inst.ShutdownCallbacks()
			errs = append(errs, inst.Stop())
			inst.Wait()
			stopped <- errors.Join(errs...)
		}()
		select {
		case err := <-stopped:
			s.serr = err
		case <-ctx.Done():
			s.serr = fmt.Errorf("dns: shutdown: %w", ctx.Err())
		}
		close(s.done)
		s.log.Info("stopped")
	})
	return s.serr
}

// readyTimeout bounds how long Listen waits for CoreDNS to answer.
const readyTimeout = 5 * time.Second

// readyProbe is a DNS header with no question. The DNS library's message
// filter answers it with FORMERR before any plugin sees it, so probing
// reaches no handler and no counter.
var readyProbe = []byte{0x52, 0x47, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}

// waitServing waits until addr answers the probe over UDP and over TCP.
func waitServing(addr netip.AddrPort, timeout time.Duration) error {
	if addr.Addr().IsUnspecified() {
		lo := netip.IPv6Loopback()
		if addr.Addr().Is4() {
			lo = netip.AddrFrom4([4]byte{127, 0, 0, 1})
		}
		addr = netip.AddrPortFrom(lo, addr.Port())
	}
	deadline := time.Now().Add(timeout)
	for _, network := range []string{"udp", "tcp"} {
		for {
			err := probe(network, addr.String())
			if err == nil {
				break
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("%s: %w", network, err)
			}
			time.Sleep(10 * time.Millisecond) // poll interval, bounded by the deadline
		}
	}
	return nil
}

func probe(network, addr string) error {
	c, err := net.DialTimeout(network, addr, 200*time.Millisecond)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(200 * time.Millisecond))
	msg := readyProbe
	if network == "tcp" {
		msg = append([]byte{0, byte(len(readyProbe))}, readyProbe...)
	}
	if _, err := c.Write(msg); err != nil {
		return err
	}
	buf := make([]byte, 512)
	_, err = c.Read(buf)
	return err
}

package radius

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	layeh "layeh.com/radius"

	"roamgate/session"
)

// Sessions is what the server needs from session.Manager.
type Sessions interface {
	// ByMAC returns the live session of a device; any error means there is
	// none (session.ErrNotFound, ErrExpired, ErrRevoked).
	ByMAC(session.MAC) (session.Session, error)
	// Seen records that an access point reported the session.
	Seen(id string, a session.Activity) (session.Session, error)
	// TimeLeft is how long s has until it ends by lifetime.
	TimeLeft(session.Session) time.Duration
}

// Locator places access points.
type Locator interface {
	// Locate names the location and network of an access point from what the
	// NAS tells (any may be empty).
	Locate(nasID, apMAC, ssid string, nasIP netip.Addr) (location, network string)
}

// Deps are the server's collaborators.
type Deps struct {
	// Sessions answers "has this device a live session?". Required; in the
	// gateway it is the *session.Manager.
	Sessions Sessions
	// Locator places the access point of a request. Optional: without it, or
	// when it returns no location, the client table's location is used.
	Locator Locator
	// IdleTimeout is sent as Idle-Timeout in Access-Accepts; the gateway
	// passes session.Policy.IdleTimeout. Zero leaves the attribute out.
	IdleTimeout time.Duration
	// Logger receives the server's errors, and one line per packet at
	// slog.LevelDebug. Nil discards.
	Logger *slog.Logger
}

// ErrServerClosed is returned by Listen and Serve after Shutdown.
var ErrServerClosed = errors.New("radius: server closed")

// Server is a RADIUS authentication and accounting server. Create it with New.
type Server struct {
	cfg         Config
	clients     clientTable
	sessions    Sessions
	locator     Locator
	idleTimeout time.Duration
	log         *slog.Logger
	workers     int
	stats       counters

	// observe, when set before Serve (tests only), is called after each
	// datagram has been handled and its reply, if any, sent.
	observe func(l listener, src netip.AddrPort, out outcome)

	mu         sync.Mutex
	auth, acct *net.UDPConn
	serving    bool
	closed     bool
	done       chan struct{} // closed by Shutdown
	wg         sync.WaitGroup
}

// New checks cfg and returns a server that is not yet listening.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if deps.Sessions == nil {
		return nil, errors.New("radius: Deps.Sessions is nil")
	}
	if deps.IdleTimeout < 0 {
		return nil, fmt.Errorf("radius: Deps.IdleTimeout %v is negative", deps.IdleTimeout)
	}
	clients, err := newClientTable(cfg)
	if err != nil {
		return nil, err
	}
	log := deps.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Server{
		cfg:         cfg,
		clients:     clients,
		sessions:    deps.Sessions,
		locator:     deps.Locator,
		idleTimeout: deps.IdleTimeout,
		log:         log,
		workers:     max(2, runtime.GOMAXPROCS(0)),
		done:        make(chan struct{}),
	}, nil
}

// Listen binds the authentication and accounting sockets. Serve calls it if
// it has not been called; calling it first lets the caller learn the
// addresses (AuthAddr, AcctAddr) and see a bind error before serving.
func (s *Server) Listen() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return ErrServerClosed
	}
	if s.auth != nil {
		return nil
	}
	auth, err := listenUDP(s.cfg.AuthListen)
	if err != nil {
		return fmt.Errorf("radius: auth_listen: %w", err)
	}
	acct, err := listenUDP(s.cfg.AcctListen)
	if err != nil {
		auth.Close()
		return fmt.Errorf("radius: acct_listen: %w", err)
	}
	s.auth, s.acct = auth, acct
	return nil
}

func listenUDP(addr string) (*net.UDPConn, error) {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	return net.ListenUDP("udp", a)
}

// AuthAddr is the address of the authentication socket, nil before Listen.
func (s *Server) AuthAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.auth == nil {
		return nil
	}
	return s.auth.LocalAddr()
}

// AcctAddr is the address of the accounting socket, nil before Listen.
func (s *Server) AcctAddr() net.Addr {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.acct == nil {
		return nil
	}
	return s.acct.LocalAddr()
}

// Serve answers requests until ctx is done or Shutdown is called, then
// returns nil once every packet in hand has been answered. It returns an
// error if it cannot listen, and ErrServerClosed if Shutdown came first.
// A Server serves once.
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
		return errors.New("radius: Serve called twice")
	}
	s.serving = true
	s.log.Info("radius: serving", "auth", s.auth.LocalAddr().String(), "acct", s.acct.LocalAddr().String(),
		"clients", len(s.clients.clients), "workers_per_socket", s.workers)
	for _, l := range []struct {
		conn *net.UDPConn
		kind listener
	}{{s.auth, authListener}, {s.acct, acctListener}} {
		for range s.workers {
			s.wg.Add(1)
			go s.worker(l.conn, l.kind)
		}
	}
	s.mu.Unlock()

	select {
	case <-ctx.Done():
		s.close()
	case <-s.done:
	}
	s.wg.Wait()
	return nil
}

// Shutdown closes the sockets and waits until the packets in hand have been
// answered, or ctx is done.
func (s *Server) Shutdown(ctx context.Context) error {
	s.close()
	idle := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(idle)
	}()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// close stops the workers: closing the sockets ends their reads. Workers are
// added only under mu while !closed, so Wait after close cannot race an Add.
func (s *Server) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.done)
	for _, c := range []*net.UDPConn{s.auth, s.acct} {
		if c != nil {
			c.Close()
		}
	}
}

// Stats returns the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// worker reads, handles and answers datagrams until the socket is closed.
func (s *Server) worker(conn *net.UDPConn, l listener) {
	defer s.wg.Done()
	buf := make([]byte, layeh.MaxPacketLength)
	var backoff time.Duration
	for {
		n, src, err := conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			// As net/http does for failing Accepts: log, back off, go on.
			backoff = min(max(2*backoff, 5*time.Millisecond), time.Second)
			s.log.Warn("radius: read", "listener", l.String(), "err", err, "retry_in", backoff)
			t := time.NewTimer(backoff)
			select {
			case <-t.C:
			case <-s.done:
				t.Stop()
				return
			}
			continue
		}
		backoff = 0
		reply, out := s.handle(l, src, buf[:n])
		if reply != nil {
			if _, err := conn.WriteToUDPAddrPort(reply, src); err != nil {
				s.stats.sendErrors.Add(1)
				s.log.Warn("radius: send", "to", src.String(), "err", err)
			}
		}
		if s.log.Enabled(context.Background(), slog.LevelDebug) {
			s.log.Debug("radius: packet", "listener", l.String(), "from", src.String(),
				"client", out.client, "code", codeString(out.code), "reply", codeString(out.reply), "drop", out.drop.String())
		}
		if s.observe != nil {
			s.observe(l, src, out)
		}
	}
}

func codeString(c layeh.Code) string {
	if c == 0 {
		return "none"
	}
	return c.String()
}

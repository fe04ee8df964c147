package radius

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	layeh "layeh.com/radius"

	"roamgate/session"
)

// Sessions is what the server needs from session.Manager.
type Sessions interface {
	// ByMAC returns the live session of a device; any error means there is
	// none (session.ErrNotFound, ErrExpired, ErrRevoked).
	ByMAC(session.MAC) (session.Session, error)
	// ByID returns the live session with the given ID (UAM logins, where
	// User-Name is the session ID).
	ByID(id string) (session.Session, error)
	// UAMSecret is the session's UAM password, checked against PAP and
	// CHAP. It must be at most 128 octets (RFC 2865 §5.2).
	UAMSecret(id string) string
	// Seen records that an access point reported the session, in memory.
	Seen(id string, a session.Activity) (session.Session, error)
	// SeenDurable is Seen that returns once the activity is stored, for
	// accounting: the Accounting-Response is sent only after it returns
	// without error.
	SeenDurable(ctx context.Context, id string, a session.Activity) (session.Session, error)
	// NASRestarted forgets the presence of the sessions a NAS reported,
	// on its Accounting-On or -Off.
	NASRestarted(addr netip.Addr, nasID string) int
	// TimeLeft is how long s has until it ends by lifetime.
	TimeLeft(session.Session) time.Duration
}

// SharedSessions is implemented by a Sessions whose MAC lookup can hand out
// the session as its index holds it rather than a copy (the
// *session.Manager does: ByMACShared); the server then uses it for MAC
// authentication, reads the session and never changes it.
type SharedSessions interface {
	// ByMACShared is Sessions.ByMAC; the Held also says when it was found
	// live and its TimeLeft then, so that the answer reads no clock again.
	ByMACShared(session.MAC) (session.Held, error)
	// HashMAC, Warm and ByHashedMACShared look a batch's MACs up in two
	// passes (session/warm.go): HashMAC computes each one's index key
	// once, Warm reads the index lines of all of them at once, and
	// ByHashedMACShared is then ByMACShared for each.
	HashMAC(session.MAC) session.HashedMAC
	Warm([]session.HashedMAC)
	ByHashedMACShared(session.HashedMAC) (session.Held, error)
}

// Bandwidth is the per-device rate limit of a network, in kbit/s; 0 is no
// limit in that direction.
type Bandwidth struct {
	UpKbps   uint32
	DownKbps uint32
	// Role names the network's user role or group policy, for access
	// points that keep bandwidth contracts by role (Aruba-User-Role,
	// Meraki's Filter-Id); empty sends none.
	Role string
}

// Locator places access points.
type Locator interface {
	// Locate names the location and network of an access point from what the
	// NAS tells (any may be empty).
	Locate(nasID, apMAC, ssid string, nasIP netip.Addr) (location, network string)
}

// AttributeLocator is a Locator that also takes a request's values as the
// server reads them from the packet, which spares it copying them into
// strings on every request; the server calls LocateAttributes instead of
// Locate when the Locator has it. The arguments are Locate's: the
// NAS-Identifier, the AP MAC of Called-Station-Id already parsed (haveAP
// false where Locate gets ""), the SSID, the NAS address. They are slices
// of the datagram: LocateAttributes must not keep them.
type AttributeLocator interface {
	Locator
	LocateAttributes(nasID []byte, apMAC session.MAC, haveAP bool, ssid []byte, nasIP netip.Addr) (location, network string)
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
	// Networks are the bandwidth limits by network ID (session.Network),
	// from the gateway's networks[].bandwidth_up/down. Access-Accepts carry
	// them in the dialect of the client's vendor. Nil: no limits.
	Networks map[string]Bandwidth
	// Metrics, if not nil, gets the server's Prometheus collectors
	// (roamgate_radius_…).
	Metrics prometheus.Registerer
	// QueueSize bounds the datagrams read but not yet handled, per socket;
	// beyond it datagrams are dropped and counted as overload. 0 means
	// DefaultQueueSize.
	QueueSize int
	// CoATimeout is how long a Disconnect- or CoA-Request waits for each
	// answer before it is sent again; CoATries is how often it is sent.
	// 0 means DefaultCoATimeout and DefaultCoATries.
	CoATimeout time.Duration
	CoATries   int
	// Logger receives the server's errors, and one line per packet at
	// slog.LevelDebug. Nil discards.
	Logger *slog.Logger
}

// Defaults of Deps.
const (
	DefaultQueueSize  = 8192
	DefaultCoATimeout = time.Second
	DefaultCoATries   = 3

	// socketBuffer is the SO_RCVBUF and SO_SNDBUF asked for: room for a
	// burst of ~10 000 requests (the kernel caps it at net.core.rmem_max).
	socketBuffer = 8 << 20
	// acctWorkers handle accounting, whose durable write waits on the
	// store; more of them than cores keeps the disk busy.
	acctWorkers = 16
)

// ErrServerClosed is returned by Listen and Serve after Shutdown, and by
// Serve when it has stopped.
var ErrServerClosed = errors.New("radius: server closed")

// shutdownGrace is what Serve gives the packets in hand when its context
// ends (the gateway calls Shutdown with its own deadline instead).
const shutdownGrace = 5 * time.Second

// Server is a RADIUS authentication and accounting server. Create it with New.
type Server struct {
	cfg         Config
	clients     clientTable
	sessions    Sessions
	shared      SharedSessions // sessions, when it is one; else nil
	locator     Locator
	attrLocator AttributeLocator // locator, if it is one
	networks    map[string]Bandwidth
	idleTimeout time.Duration
	log         *slog.Logger
	workers     int
	queueSize   int
	coaTimeout  time.Duration
	coaTries    int
	stats       counters
	dups        dupCache
	latency     [2]prometheus.Histogram // by listener
	batches     [2]batchCounters        // datagrams per read, by listener

	// observe, when set before Serve (tests only), is called after each
	// datagram has been handled and its reply, if any, sent.
	observe func(l listener, src netip.AddrPort, out outcome)

	mu         sync.Mutex
	auth, acct *net.UDPConn
	serving    bool
	closed     bool
	done       chan struct{} // closed by Shutdown
	wg         sync.WaitGroup
	coaWG      sync.WaitGroup // Disconnect-Requests sent on session end
	coaSem     chan struct{}

	// nases are where NAS-Identifiers and AP MACs were heard (nasdir.go).
	nases nasDirectory
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
	if deps.QueueSize < 0 || deps.CoATimeout < 0 || deps.CoATries < 0 {
		return nil, errors.New("radius: Deps.QueueSize, CoATimeout and CoATries must not be negative")
	}
	s := &Server{
		cfg:         cfg,
		clients:     clients,
		sessions:    deps.Sessions,
		shared:      sharedSessions(deps.Sessions),
		locator:     deps.Locator,
		networks:    deps.Networks,
		idleTimeout: deps.IdleTimeout,
		log:         log,
		workers:     max(2, runtime.GOMAXPROCS(0)),
		queueSize:   cmp.Or(deps.QueueSize, DefaultQueueSize),
		coaTimeout:  cmp.Or(deps.CoATimeout, DefaultCoATimeout),
		coaTries:    cmp.Or(deps.CoATries, DefaultCoATries),
		done:        make(chan struct{}),
		coaSem:      make(chan struct{}, 64),
	}
	s.attrLocator, _ = deps.Locator.(AttributeLocator)
	s.dups.init()
	for l := range s.latency {
		s.latency[l] = newLatencyHistogram(listener(l))
	}
	if deps.Metrics != nil {
		if err := deps.Metrics.Register(collector{s}); err != nil {
			return nil, fmt.Errorf("radius: register metrics: %w", err)
		}
	}
	return s, nil
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
		return fmt.Errorf("radius.auth_listen: %w", err)
	}
	acct, err := listenUDP(s.cfg.AcctListen)
	if err != nil {
		auth.Close()
		return fmt.Errorf("radius.acct_listen: %w", err)
	}
	s.auth, s.acct = auth, acct
	return nil
}

// listenUDP binds addr with large socket buffers, so that a burst of
// requests waits in the kernel instead of being dropped there. The kernel
// may grant less than asked (net.core.rmem_max); that is not an error.
func listenUDP(addr string) (*net.UDPConn, error) {
	a, err := net.ResolveUDPAddr("udp", addr)
	if err != nil {
		return nil, err
	}
	c, err := net.ListenUDP("udp", a)
	if err != nil {
		return nil, err
	}
	_ = c.SetReadBuffer(socketBuffer)
	_ = c.SetWriteBuffer(socketBuffer)
	return c, nil
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
// returns ErrServerClosed; when ctx ends it shuts the server down itself
// (Shutdown, with a few seconds for the packets in hand) before it returns.
// It listens first unless Listen was called, and returns that error if it
// cannot. A Server serves once.
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
	// Where Disconnect- and CoA-Requests come from, as access points must
	// be configured (coa.go dasSource).
	dasFrom := s.auth.LocalAddr().(*net.UDPAddr).AddrPort().Addr().Unmap().String()
	if s.auth.LocalAddr().(*net.UDPAddr).IP.IsUnspecified() {
		dasFrom = "the address of the interface the route to each NAS leaves by"
	}
	s.log.Info("radius: serving", "auth", s.auth.LocalAddr().String(), "acct", s.acct.LocalAddr().String(),
		"clients", len(s.clients.clients), "auth_workers", s.workers, "acct_workers", acctWorkers, "queue", s.queueSize,
		"disconnect_from", dasFrom)
	for _, name := range s.UnsignedClients() {
		// Once per client and start: it stays so until the configuration
		// changes, and the admin dashboard shows it meanwhile.
		s.log.Warn("radius: client runs without Message-Authenticator; Access-Requests with Proxy-State are still dropped unless signed (limit_proxy_state)",
			"client", name)
	}
	for _, l := range []struct {
		conn    *net.UDPConn
		kind    listener
		workers int
	}{{s.auth, authListener, s.workers}, {s.acct, acctListener, acctWorkers}} {
		q := make(chan *batch, max(1, s.queueSize/batchSize))
		s.wg.Add(1)
		go s.reader(l.conn, l.kind, q)
		for range l.workers {
			s.wg.Add(1)
			go s.worker(l.conn, l.kind, q)
		}
	}
	s.mu.Unlock()

	select {
	case <-ctx.Done():
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), shutdownGrace)
		defer cancel()
		if err := s.Shutdown(sctx); err != nil {
			s.log.Warn("radius: shutdown", "err", err)
		}
	case <-s.done:
	}
	return ErrServerClosed
}

// Shutdown stops reading requests and waits until those already read have
// been answered and the Disconnect-Requests under way have ended, or ctx
// is done; then it closes the sockets, so the ports are free when it
// returns. It may be called more than once.
func (s *Server) Shutdown(ctx context.Context) error {
	s.stop()
	idle := make(chan struct{})
	go func() {
		s.wg.Wait()
		s.coaWG.Wait()
		close(idle)
	}()
	var err error
	select {
	case <-idle:
	case <-ctx.Done():
		err = ctx.Err()
	}
	s.mu.Lock()
	for _, c := range []*net.UDPConn{s.auth, s.acct} {
		if c != nil {
			c.Close() // a second Shutdown's error is of no interest
		}
	}
	s.mu.Unlock()
	return err
}

// stop ends the readers: a read deadline in the past wakes them, and they
// return as done is closed. The workers answer what was read through the
// still open sockets. Workers are added only under mu while !closed, so
// Wait after stop cannot race an Add.
func (s *Server) stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	close(s.done)
	for _, c := range []*net.UDPConn{s.auth, s.acct} {
		if c != nil {
			c.SetReadDeadline(time.Unix(1, 0))
		}
	}
}

// Stats returns the counters.
func (s *Server) Stats() Stats { return s.stats.snapshot() }

// UnsignedClients names the clients whose Access-Requests are answered
// without a Message-Authenticator (require_message_authenticator: false,
// e.g. OpenWrt uspot with radcli before 1.5), in configuration order: the
// clients Blast-RADIUS protection covers only through limit_proxy_state.
func (s *Server) UnsignedClients() []string {
	var names []string
	for _, cc := range s.cfg.Clients {
		if c := s.clients.byName(cc.Name, cc.CIDR); c != nil && !c.requireMA {
			names = append(names, c.name)
		}
	}
	return names
}

// batchSize is how many datagrams one system call reads (recvmmsg) or
// writes (sendmmsg) at most. Under load a read returns many at once, and the
// replies to them leave in one write: two system calls for up to this many
// requests instead of two each.
const batchSize = 32

// batch is datagrams read together and handled by one worker.
type batch struct {
	bufs [batchSize][]byte         // the datagrams' buffers, layeh.MaxPacketLength each
	lens [batchSize]int            // bufs[i][:lens[i]] is datagram i
	srcs [batchSize]netip.AddrPort // and where it came from
	n    int                       // datagrams read
	rd   readState                 // the read system call's view of bufs
	at   time.Time
}

func newBatch() *batch {
	b := &batch{}
	for i := range b.bufs {
		b.bufs[i] = make([]byte, layeh.MaxPacketLength)
	}
	b.initRead()
	return b
}

// replies are a worker's answers to the batch it handles. A worker sends a
// batch's replies before it takes the next batch, so they are built and
// addressed in buffers of the worker's, reused for every batch, not in each
// batch's: a full queue holds hundreds of batches.
type replies struct {
	bufs [batchSize][]byte // where the reply to datagram i is built (Server.handle)
	out  []ipv4.Message    // the replies to send, addressed to the requests' sources
	// The replies' addresses, reused: none is allocated per reply.
	addrs [batchSize]net.UDPAddr
	ips   [batchSize][net.IPv6len]byte
	res   [batchSize]outcome // what became of datagram i, for Server.observe
	// The batch between the halves of handling (Server.begin, finish) and
	// the MAC keys for warm.
	pending [batchSize]pending
	keys    [batchSize]session.HashedMAC
}

func newReplies() *replies {
	r := &replies{out: make([]ipv4.Message, batchSize)}
	for i := range r.bufs {
		r.bufs[i] = make([]byte, 0, layeh.MaxPacketLength)
		r.out[i].Buffers = [][]byte{nil}
	}
	return r
}

// address makes out[k] the reply b to src.
func (r *replies) address(k int, b []byte, src netip.AddrPort) {
	a, ip := &r.addrs[k], src.Addr()
	if ip.Is4() {
		*(*[4]byte)(r.ips[k][:4]) = ip.As4()
		a.IP = r.ips[k][:4]
	} else {
		r.ips[k] = ip.As16()
		a.IP = r.ips[k][:]
	}
	a.Port, a.Zone = int(src.Port()), ip.Zone()
	r.out[k].Buffers[0], r.out[k].Addr = b, a
}

var batchPool = sync.Pool{New: func() any { return newBatch() }}

// batchConn is what ipv4.PacketConn and ipv6.PacketConn share.
type batchConn interface {
	ReadBatch(ms []ipv4.Message, flags int) (int, error)
	WriteBatch(ms []ipv4.Message, flags int) (int, error)
}

func newBatchConn(conn *net.UDPConn) batchConn {
	if a, ok := conn.LocalAddr().(*net.UDPAddr); ok && a.IP.To4() != nil {
		return ipv4.NewPacketConn(conn)
	}
	return ipv6.NewPacketConn(conn)
}

// reader reads datagrams into the socket's bounded queue until Shutdown,
// then closes the queue. When the queue is full the datagrams are
// dropped and counted as overload: the access point retransmits, and the
// requests already queued are not made older by it.
func (s *Server) reader(conn *net.UDPConn, l listener, q chan<- *batch) {
	defer s.wg.Done()
	defer close(q)
	br, err := newBatchReader(conn)
	if err != nil {
		s.log.Error("radius: socket", "listener", l.String(), "err", err)
		return
	}
	var backoff time.Duration
	for {
		b := batchPool.Get().(*batch)
		n, err := br.read(b)
		if err != nil {
			batchPool.Put(b)
			if errors.Is(err, net.ErrClosed) || s.stopping() {
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
		if n > 0 {
			s.batches[l].add(n)
		}
		b.n, b.at = n, time.Now()
		select {
		case q <- b:
		default:
			for i := range n {
				s.stats.received.Add(1)
				s.stats.dropped[dropOverload].Add(1)
				if s.observe != nil {
					out := outcome{drop: dropOverload}
					if b.lens[i] > 0 {
						out.code = layeh.Code(b.bufs[i][0])
					}
					s.observe(l, b.srcs[i], out)
				}
			}
			batchPool.Put(b)
		}
	}
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

// worker handles and answers queued batches until the queue is closed.
func (s *Server) worker(conn *net.UDPConn, l listener, q <-chan *batch) {
	defer s.wg.Done()
	bc := newBatchConn(conn)
	debug := s.log.Enabled(context.Background(), slog.LevelDebug)
	r := newReplies()
	for b := range q {
		ps := r.pending[:b.n]
		for i := range ps {
			s.begin(&ps[i], l, b.srcs[i], b.bufs[i][:b.lens[i]], r.bufs[i], b.at)
		}
		s.warm(ps, r.keys[:])
		k := 0
		for i := range ps {
			src := b.srcs[i]
			reply, out := s.finish(&ps[i])
			r.res[i] = out
			if reply != nil {
				r.address(k, reply, src)
				k++
			}
			if debug {
				s.log.Debug("radius: packet", "listener", l.String(), "from", src.String(),
					"client", out.client, "code", codeString(out.code), "reply", codeString(out.reply), "drop", out.drop.String())
			}
		}
		for sent := 0; sent < k; {
			n, err := bc.WriteBatch(r.out[sent:k], 0)
			if err != nil {
				// Skip the reply the kernel refused and send the rest.
				s.stats.sendErrors.Add(1)
				s.log.Warn("radius: send", "to", r.out[sent].Addr.String(), "err", err)
				n = max(n, 1)
			}
			sent += n
		}
		if k > 0 {
			d := time.Since(b.at).Seconds()
			for range k {
				s.latency[l].Observe(d)
			}
		}
		if s.observe != nil {
			// Tests only: report after the replies are sent.
			for i := range b.n {
				s.observe(l, b.srcs[i], r.res[i])
			}
		}
		for i := range k {
			r.out[i].Buffers[0], r.out[i].Addr = nil, nil
		}
		clear(ps) // no reference to the batch's buffers
		batchPool.Put(b)
	}
}

func codeString(c layeh.Code) string {
	if c == 0 {
		return "none"
	}
	return c.String()
}

func sharedSessions(s Sessions) SharedSessions {
	shared, _ := s.(SharedSessions)
	return shared
}

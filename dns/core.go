package dns

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"sync"

	"github.com/coredns/caddy"
	"github.com/coredns/coredns/core/dnsserver"
	"github.com/coredns/coredns/plugin/forward"
)

// CoreDNS set up from a Corefile, served on sockets roamgate binds itself.
//
// caddy.Start parses a Corefile, runs every plugin's setup, makes the
// servers and starts them on sockets it binds: all in one call, so it
// could not bind in Listen and answer only from Serve. Here caddy.Start
// does the parsing and the setup as always, and a parsing callback after
// the last directive (registered in registerOnce) ends it there, before
// any startup callback has run and before anything is bound, and keeps
// caddy's server-type context. From that context CoreDNS makes its
// servers (dnsserver.Server); roamgate runs the instance's startup
// callbacks and serves them on its own sockets (Serve and ServePacket),
// stops them (Stop) and runs the shutdown callbacks, as caddy would.

// errBuilt ends caddy.Start once every directive is set up.
var errBuilt = errors.New("dns: Corefile set up")

// building is the core being built. Only buildCore writes it, holding
// buildMu, and only the parsing callback reads it, on the same goroutine
// inside caddy.Start. buildCore is the only caller of caddy.Start in
// roamgate, so no other Start can meet the callback.
var (
	buildMu  sync.Mutex
	building *coreDNS
)

// built is the parsing callback after the last directive.
func built(ctx caddy.Context) error {
	if building == nil {
		return nil
	}
	building.ctx = ctx
	return errBuilt
}

// coreServer is what dnsserver.Server offers for serving given sockets.
type coreServer interface {
	Serve(net.Listener) error
	ServePacket(net.PacketConn) error
	Stop() error
}

// coreDNS is a Corefile's CoreDNS with the sockets it is to serve.
type coreDNS struct {
	inst    *caddy.Instance // its startup and shutdown callbacks
	ctx     caddy.Context
	server  coreServer
	ln      net.Listener
	pc      net.PacketConn
	wg      sync.WaitGroup // the serving goroutines
	started bool
	// configs are the server blocks' configs, where the embedding program
	// learnt them (the captive plugin's binding): stop ends their
	// forwarders' connection managers.
	configs []*dnsserver.Config
}

// buildCore sets CoreDNS up from a Corefile with one server block, to
// serve ln and pc. No plugin has started yet.
func buildCore(corefile string, ln net.Listener, pc net.PacketConn) (*coreDNS, error) {
	if err := registerOnce(); err != nil {
		return nil, err
	}
	buildMu.Lock()
	defer buildMu.Unlock()
	c := &coreDNS{ln: ln, pc: pc}
	building = c
	inst, err := caddy.Start(caddy.CaddyfileInput{Contents: []byte(corefile), Filepath: "roamgate", ServerTypeName: "dns"})
	building = nil
	if err == nil {
		// The callback runs for every Corefile; had it not, CoreDNS would
		// now serve on sockets of its own.
		inst.ShutdownCallbacks()
		inst.Stop()
		return nil, errors.New("dns: CoreDNS started on its own sockets")
	}
	if !errors.Is(err, errBuilt) {
		return nil, err
	}
	c.inst = inst
	servers, err := c.ctx.MakeServers()
	if err != nil {
		return nil, err
	}
	if len(servers) != 1 {
		return nil, fmt.Errorf("dns: the Corefile makes %d servers, want 1", len(servers))
	}
	var ok bool
	if c.server, ok = servers[0].(coreServer); !ok {
		return nil, fmt.Errorf("dns: %T cannot serve given sockets", servers[0])
	}
	return c, nil
}

// start runs the startup callbacks (forward starts its proxies), as
// caddy.Start does before it serves.
func (c *coreDNS) start() error {
	c.started = true
	for _, fns := range [][]func() error{c.inst.OnFirstStartup, c.inst.OnStartup} {
		for _, f := range fns {
			if err := f(); err != nil {
				return err
			}
		}
	}
	return nil
}

// serve serves the sockets (UDP and TCP) until stop, each in a goroutine
// that sends its end to ended (which must have room for two).
func (c *coreDNS) serve(ended chan<- error) {
	c.wg.Add(2)
	go func() {
		defer c.wg.Done()
		ended <- c.server.ServePacket(c.pc)
	}()
	go func() {
		defer c.wg.Done()
		ended <- c.server.Serve(c.ln)
	}()
}

// stop stops the server, which finishes the queries in hand (CoreDNS gives
// them up to five seconds), closes the sockets, waits for the serving
// goroutines and then runs the shutdown callbacks if the startup ones ran.
func (c *coreDNS) stop() error {
	// Stop misses a server whose goroutine has not yet got as far as
	// registering it; closing the sockets ends that one too.
	err := c.server.Stop()
	c.closeSockets()
	c.wg.Wait()
	errs := []error{err}
	if c.started {
		errs = append(errs, c.inst.ShutdownCallbacks()...)
		stopForwarders(c.configs)
	}
	return errors.Join(errs...)
}

// stopForwarders ends the connection managers of forward's proxies. Its
// OnShutdown stops only their health checks and leaves the connection
// managers to a finalizer on each proxy (in a reload, queries in flight
// may still use them); but caddy keeps the instance it started last in its
// instance list's backing array, and through it every plugin, so the
// finalizer would run only after the next start. A server that has
// stopped has no query in flight, so they end here, and the finalizer,
// which would close them a second time, is cleared. roamgate's upstreams
// are plain DNS: no proxy has a DoQ transport, which the finalizer would
// close instead.
func stopForwarders(configs []*dnsserver.Config) {
	for _, cfg := range configs {
		f, ok := cfg.Handler("forward").(*forward.Forward)
		if !ok {
			continue
		}
		for _, p := range f.List() {
			runtime.SetFinalizer(p, nil)
			p.GetTransport().Stop()
		}
	}
}

// closeSockets frees the port; it may be called more than once.
func (c *coreDNS) closeSockets() {
	c.ln.Close()
	c.pc.Close()
}

// bindUDPTCP binds addr over TCP and UDP. With port 0 it finds a port free
// for both.
func bindUDPTCP(addr netip.AddrPort) (*net.TCPListener, *net.UDPConn, error) {
	tries := 1
	if addr.Port() == 0 {
		tries = 20 // the port TCP got may be taken for UDP
	}
	var err error
	for range tries {
		ln, terr := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
		if terr != nil {
			return nil, nil, terr
		}
		at := netip.AddrPortFrom(addr.Addr(), uint16(ln.Addr().(*net.TCPAddr).Port))
		pc, uerr := net.ListenUDP("udp", net.UDPAddrFromAddrPort(at))
		if uerr == nil {
			return ln, pc, nil
		}
		ln.Close()
		err = uerr
	}
	return nil, nil, err
}

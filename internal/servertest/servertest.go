// Package servertest checks that a server keeps the lifecycle every roamgate
// server shares (DESIGN §2a), the way golang.org/x/net/nettest checks every
// net.Conn: Listen binds every socket (port 0 works) and nothing is answered
// until Serve; Serve ends with the package's ErrServerClosed when its
// context ends or Shutdown is called, in every order; Shutdown frees every
// port and may be called twice; Listen on a busy port names the address;
// no goroutine outlives the server. portal, radius, dns and admin run it
// from their tests. It is for tests only.
package servertest

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Server is the lifecycle under test.
type Server interface {
	Listen() error
	Serve(ctx context.Context) error
	Shutdown(ctx context.Context) error
}

// Listener is one listen setting of a server.
type Listener struct {
	// Key is its configuration key path ("radius.auth_listen"): a Listen
	// error must name it.
	Key string
	// Networks are what the server binds at that address: "tcp", "udp" or
	// both (DNS).
	Networks []string
}

// Harness is what the suite needs to know about one kind of server.
type Harness struct {
	// Listeners are the server's listen settings.
	Listeners []Listener
	// New returns a server that does not listen yet, whose listen setting
	// Listeners[i] is listen[i]. Its collaborators should be made once,
	// outside the suite: goroutines they start would count as the server's.
	New func(t *testing.T, listen []string) Server
	// Addrs are the bound addresses after Listen, one per listener.
	Addrs func(s Server) []netip.AddrPort
	// Probe sends s one request on every socket it binds and waits until
	// each is answered (nil) or ctx ends. It must leave no goroutine or
	// socket behind when it returns.
	Probe func(ctx context.Context, s Server) error
	// ErrServerClosed is the package's sentinel.
	ErrServerClosed error
}

// Timing. quiet is how long a request sent before Serve must stay
// unanswered: a server that answers from Listen on does so within
// microseconds on loopback. deadline bounds everything that must happen.
const (
	quiet    = 200 * time.Millisecond
	deadline = 10 * time.Second
)

// Run runs the suite. The subtests run one after another: each counts the
// goroutines before and after itself.
func Run(t *testing.T, h Harness) {
	if len(h.Listeners) == 0 || h.New == nil || h.Addrs == nil || h.Probe == nil || h.ErrServerClosed == nil {
		t.Fatal("servertest: incomplete Harness")
	}
	// One full cycle first, outside any count: goroutines a library starts
	// once per process (fasthttp's date ticker …) are not the server's.
	warm := h.New(t, h.ports())
	h.listen(t, warm)
	sv := h.serve(context.Background(), warm)
	h.probe(t, warm)
	h.shutdown(t, warm)
	sv.closed(t, h)

	h.run(t, "ListenBindsServeAnswers", h.listenBindsServeAnswers)
	h.run(t, "ShutdownBeforeListen", h.shutdownBeforeListen)
	h.run(t, "ShutdownBeforeServe", h.shutdownBeforeServe)
	h.run(t, "CancelBeforeServe", h.cancelBeforeServe)
	h.run(t, "ServeThenCancel", h.serveThenCancel)
	h.run(t, "ServeThenShutdown", h.serveThenShutdown)
	h.run(t, "ShutdownTwice", h.shutdownTwice)
	h.run(t, "ShutdownThenCancel", h.shutdownThenCancel)
	h.run(t, "CancelAndShutdownAtOnce", h.cancelAndShutdownAtOnce)
	h.run(t, "ShutdownExpiredContext", h.shutdownExpiredContext)
	for i, l := range h.Listeners {
		for _, network := range l.Networks {
			h.run(t, "BusyPort/"+l.Key+"/"+network, func(t *testing.T) { h.busyPort(t, i, network) })
		}
	}
}

// run runs one case and then checks that every goroutine it started has
// ended.
func (h Harness) run(t *testing.T, name string, f func(t *testing.T)) {
	t.Run(name, func(t *testing.T) {
		before := goroutines()
		f(t)
		if !t.Failed() {
			noLeak(t, before)
		}
	})
}

// listenBindsServeAnswers: Listen binds every socket on a free port;
// while it listens nobody else can bind them; a request sent before Serve
// is not answered, and is answered once Serve runs (the socket Listen
// bound is the one that serves).
func (h Harness) listenBindsServeAnswers(t *testing.T) {
	s := h.New(t, h.ports())
	h.listen(t, s)
	addrs := h.addrs(t, s)
	for i, l := range h.Listeners {
		for _, network := range l.Networks {
			if err := bind(network, addrs[i]); err == nil {
				t.Errorf("%s %s/%s can be bound by another socket while the server listens", l.Key, addrs[i], network)
			}
		}
	}
	if err := s.Listen(); err != nil {
		t.Errorf("second Listen: %v", err)
	}
	if again := h.Addrs(s); !slices.Equal(again, addrs) {
		t.Errorf("addresses after a second Listen %v, want %v", again, addrs)
	}

	pctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	held := make(chan error, 1)
	go func() { held <- h.Probe(pctx, s) }()
	select {
	case err := <-held:
		t.Errorf("a request was answered (or failed: %v) before Serve", err)
		held <- err
	case <-time.After(quiet):
	}

	sv := h.serve(context.Background(), s)
	if err := <-held; err != nil {
		t.Errorf("the request sent before Serve is not answered after Serve: %v", err)
	}
	h.probe(t, s)
	h.shutdown(t, s)
	sv.closed(t, h)
	h.portsFree(t, addrs)
}

// shutdownBeforeListen: a server shut down before it listens never binds.
func (h Harness) shutdownBeforeListen(t *testing.T) {
	s := h.New(t, h.ports())
	h.shutdown(t, s)
	if err := s.Listen(); !errors.Is(err, h.ErrServerClosed) {
		t.Errorf("Listen after Shutdown = %v, want %v", err, h.ErrServerClosed)
	}
	h.serve(context.Background(), s).closed(t, h)
	h.shutdown(t, s)
}

// shutdownBeforeServe: Shutdown frees what Listen bound, and a later Serve
// returns at once.
func (h Harness) shutdownBeforeServe(t *testing.T) {
	s := h.New(t, h.ports())
	h.listen(t, s)
	addrs := h.addrs(t, s)
	h.shutdown(t, s)
	h.portsFree(t, addrs)
	h.serve(context.Background(), s).closed(t, h)
}

// cancelBeforeServe: Serve with a context that has already ended stops the
// server and frees its ports.
func (h Harness) cancelBeforeServe(t *testing.T) {
	s := h.New(t, h.ports())
	h.listen(t, s)
	addrs := h.addrs(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	h.serve(ctx, s).closed(t, h)
	h.portsFree(t, addrs)
	h.shutdown(t, s)
}

// serveThenCancel: the end of Serve's context stops the server; when Serve
// has returned the ports are free, and Shutdown afterwards is harmless.
func (h Harness) serveThenCancel(t *testing.T) {
	s := h.New(t, h.ports())
	h.listen(t, s)
	addrs := h.addrs(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sv := h.serve(ctx, s)
	h.probe(t, s)
	cancel()
	sv.closed(t, h)
	h.portsFree(t, addrs)
	h.shutdown(t, s)
	h.serve(context.Background(), s).closed(t, h)
}

// serveThenShutdown: Shutdown stops Serve; when Shutdown has returned the
// ports are free.
func (h Harness) serveThenShutdown(t *testing.T) {
	s := h.New(t, h.ports())
	h.listen(t, s)
	addrs := h.addrs(t, s)
	sv := h.serve(context.Background(), s)
	h.probe(t, s)
	h.shutdown(t, s)
	h.portsFree(t, addrs)
	sv.closed(t, h)
}

// shutdownTwice: two Shutdowns at once and a third after them all succeed.
func (h Harness) shutdownTwice(t *testing.T) {
	s := h.New(t, h.ports())
	h.listen(t, s)
	addrs := h.addrs(t, s)
	sv := h.serve(context.Background(), s)
	h.probe(t, s)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() { h.shutdown(t, s) })
	}
	wg.Wait()
	h.shutdown(t, s)
	h.portsFree(t, addrs)
	sv.closed(t, h)
}

// shutdownThenCancel: the end of Serve's context after Shutdown changes
// nothing.
func (h Harness) shutdownThenCancel(t *testing.T) {
	s := h.New(t, h.ports())
	h.listen(t, s)
	addrs := h.addrs(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sv := h.serve(ctx, s)
	h.probe(t, s)
	h.shutdown(t, s)
	cancel()
	sv.closed(t, h)
	h.portsFree(t, addrs)
}

// cancelAndShutdownAtOnce: the two ways to stop, racing.
func (h Harness) cancelAndShutdownAtOnce(t *testing.T) {
	s := h.New(t, h.ports())
	h.listen(t, s)
	addrs := h.addrs(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sv := h.serve(ctx, s)
	h.probe(t, s)
	var wg sync.WaitGroup
	wg.Go(cancel)
	wg.Go(func() { h.shutdown(t, s) })
	wg.Wait()
	sv.closed(t, h)
	h.portsFree(t, addrs)
}

// shutdownExpiredContext: a Shutdown out of time still frees every port
// before it returns, and returns promptly.
func (h Harness) shutdownExpiredContext(t *testing.T) {
	s := h.New(t, h.ports())
	h.listen(t, s)
	addrs := h.addrs(t, s)
	sv := h.serve(context.Background(), s)
	h.probe(t, s)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	returned := make(chan error, 1)
	go func() { returned <- s.Shutdown(ctx) }()
	select {
	case err := <-returned:
		if err != nil && !errors.Is(err, context.Canceled) {
			t.Errorf("Shutdown with an ended context = %v, want nil or context.Canceled", err)
		}
	case <-time.After(deadline):
		t.Fatal("Shutdown with an ended context did not return")
	}
	h.portsFree(t, addrs)
	sv.closed(t, h)
}

// busyPort: Listen on an address another socket holds fails with an error
// naming the key and the address, and leaves nothing bound.
func (h Harness) busyPort(t *testing.T, i int, network string) {
	l := h.Listeners[i]
	taken, addr := occupy(t, network)
	defer taken.Close()
	// The listener's other networks at that address must be free again
	// after the failed Listen; note which are free now.
	var others []string
	for _, n := range l.Networks {
		if n != network && bind(n, addr) == nil {
			others = append(others, n)
		}
	}
	listen := h.ports()
	listen[i] = addr.String()
	s := h.New(t, listen)
	err := s.Listen()
	switch {
	case err == nil:
		t.Errorf("Listen with %s %s/%s taken succeeded", l.Key, addr, network)
	case !strings.Contains(err.Error(), l.Key) || !strings.Contains(err.Error(), addr.String()):
		t.Errorf("Listen with %s %s/%s taken = %q, want an error naming %s and %s", l.Key, addr, network, err, l.Key, addr)
	}
	for _, n := range others {
		if err := bind(n, addr); err != nil {
			t.Errorf("%s %s/%s still bound after the failed Listen: %v", l.Key, addr, n, err)
		}
	}
	h.shutdown(t, s)
}

// ports is every listen setting on a free loopback port.
func (h Harness) ports() []string {
	listen := make([]string, len(h.Listeners))
	for i := range listen {
		listen[i] = "127.0.0.1:0"
	}
	return listen
}

func (h Harness) listen(t *testing.T, s Server) {
	t.Helper()
	if err := s.Listen(); err != nil {
		t.Fatalf("Listen: %v", err)
	}
}

// addrs are the bound addresses: one per listener, on loopback, with a
// port chosen.
func (h Harness) addrs(t *testing.T, s Server) []netip.AddrPort {
	t.Helper()
	addrs := h.Addrs(s)
	if len(addrs) != len(h.Listeners) {
		t.Fatalf("%d addresses after Listen, want %d", len(addrs), len(h.Listeners))
	}
	for i, a := range addrs {
		if !a.IsValid() || a.Port() == 0 || !a.Addr().IsLoopback() {
			t.Fatalf("%s: address after Listen %v, want a loopback address with its port", h.Listeners[i].Key, a)
		}
	}
	return addrs
}

// probe requires an answer on every socket.
func (h Harness) probe(t *testing.T, s Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := h.Probe(ctx, s); err != nil {
		t.Fatalf("no answer while serving: %v", err)
	}
}

func (h Harness) shutdown(t *testing.T, s Server) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), deadline)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Errorf("Shutdown: %v", err)
	}
}

// portsFree binds every address the server had, as a new server on the
// same configuration would.
func (h Harness) portsFree(t *testing.T, addrs []netip.AddrPort) {
	t.Helper()
	for i, l := range h.Listeners {
		for _, network := range l.Networks {
			if err := bind(network, addrs[i]); err != nil {
				t.Errorf("%s %s/%s not free after the server stopped: %v", l.Key, addrs[i], network, err)
			}
		}
	}
}

// serving is a Serve running in its own goroutine.
type serving chan error

func (h Harness) serve(ctx context.Context, s Server) serving {
	sv := make(serving, 1)
	go func() { sv <- s.Serve(ctx) }()
	return sv
}

// closed waits for Serve to return ErrServerClosed.
func (sv serving) closed(t *testing.T, h Harness) {
	t.Helper()
	select {
	case err := <-sv:
		if !errors.Is(err, h.ErrServerClosed) {
			t.Errorf("Serve = %v, want %v", err, h.ErrServerClosed)
		}
	case <-time.After(deadline):
		t.Fatalf("Serve did not return within %v", deadline)
	}
}

// bind binds network at addr and closes it again.
func bind(network string, addr netip.AddrPort) error {
	switch network {
	case "tcp":
		l, err := net.ListenTCP("tcp", net.TCPAddrFromAddrPort(addr))
		if err != nil {
			return err
		}
		return l.Close()
	case "udp":
		c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(addr))
		if err != nil {
			return err
		}
		return c.Close()
	}
	return fmt.Errorf("servertest: unknown network %q", network)
}

// occupy holds a free loopback port of network.
func occupy(t *testing.T, network string) (interface{ Close() error }, netip.AddrPort) {
	t.Helper()
	switch network {
	case "tcp":
		l, err := net.ListenTCP("tcp", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return l, l.Addr().(*net.TCPAddr).AddrPort()
	case "udp":
		c, err := net.ListenUDP("udp", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			t.Fatal(err)
		}
		return c, c.LocalAddr().(*net.UDPAddr).AddrPort()
	}
	t.Fatalf("servertest: unknown network %q", network)
	return nil, netip.AddrPort{}
}

// AddrPort is a TCP or UDP address as a netip.AddrPort; invalid for nil.
func AddrPort(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.TCPAddr:
		return a.AddrPort()
	case *net.UDPAddr:
		return a.AddrPort()
	}
	return netip.AddrPort{}
}

// HTTPGet is a probe for HTTP servers: GET path over a new connection to
// addr, nil when the answer is 200 OK. The connection is made and the
// request written even before the server serves (the kernel accepts it),
// so the answer shows when the server starts reading.
func HTTPGet(ctx context.Context, addr netip.AddrPort, path string) error {
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", addr.String())
	if err != nil {
		return err
	}
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if _, err := fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return err
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", path, resp.Status)
	}
	return nil
}

// noLeak waits until every goroutine that was not in before has ended,
// and reports the stacks of those that do not. Each round collects
// garbage first: some libraries end goroutines in finalizers.
func noLeak(t *testing.T, before map[uint64]bool) {
	t.Helper()
	end := time.Now().Add(deadline)
	for {
		runtime.GC()
		var leaked []string
		for id, stack := range goroutineStacks() {
			if !before[id] {
				leaked = append(leaked, stack)
			}
		}
		if len(leaked) == 0 {
			return
		}
		if time.Now().After(end) {
			t.Errorf("%d goroutines outlive the server:\n\n%s", len(leaked), strings.Join(leaked, "\n\n"))
			return
		}
		time.Sleep(10 * time.Millisecond) // poll, bounded by end
	}
}

// goroutines are the IDs of the goroutines now.
func goroutines() map[uint64]bool {
	ids := map[uint64]bool{}
	for id := range goroutineStacks() {
		ids[id] = true
	}
	return ids
}

// goroutineStacks maps every goroutine's ID to its stack.
func goroutineStacks() map[uint64]string {
	buf := make([]byte, 1<<16)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	stacks := map[uint64]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		// "goroutine 42 [running]:"
		head, _, _ := strings.Cut(string(g), " [")
		id, err := strconv.ParseUint(strings.TrimPrefix(head, "goroutine "), 10, 64)
		if err == nil {
			stacks[id] = string(g)
		}
	}
	return stacks
}

package dns_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"

	"roamgate/dns"
	"roamgate/internal/testtool"
)

// flooder sends A queries from one client address as fast as a rate allows,
// without waiting for answers (open loop: what a flooding script does), and
// counts the answers it gets back.
type flooder struct {
	sent, answered atomic.Int64
	stop           context.CancelFunc
	done           sync.WaitGroup
}

// startFlood floods server from src at rate queries a second over sockets
// UDP sockets until the returned flooder is stopped.
func startFlood(t testing.TB, server netip.AddrPort, src string, rate, sockets int) *flooder {
	t.Helper()
	q := new(mdns.Msg)
	q.SetQuestion("flood.example.org.", mdns.TypeA)
	pkt, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	f := &flooder{stop: cancel}
	perTick := max(rate/sockets/1000, 1) // queries per socket each millisecond
	for range sockets {
		conn, err := net.DialUDP("udp", &net.UDPAddr{IP: net.ParseIP(src)}, net.UDPAddrFromAddrPort(server))
		if err != nil {
			cancel()
			t.Fatal(err)
		}
		f.done.Add(2)
		go func() { // answers
			defer f.done.Done()
			buf := make([]byte, 512)
			for ctx.Err() == nil {
				conn.SetReadDeadline(time.Now().Add(50 * time.Millisecond))
				if _, err := conn.Read(buf); err == nil {
					f.answered.Add(1)
				}
			}
		}()
		go func() { // queries, paced by the millisecond
			defer f.done.Done()
			defer conn.Close()
			next := time.Now()
			for ctx.Err() == nil {
				for range perTick {
					if _, err := conn.Write(pkt); err == nil {
						f.sent.Add(1)
					}
				}
				next = next.Add(time.Millisecond)
				if d := time.Until(next); d > 0 {
					time.Sleep(d) // pacing, not waiting for a condition
				}
			}
		}()
	}
	t.Cleanup(f.halt)
	return f
}

// floodDNSPerf runs real dnsperf from src against server until the
// returned function stops it and reports dnsperf's summary.
func floodDNSPerf(b *testing.B, server netip.AddrPort, src string) func() string {
	b.Helper()
	queries := b.TempDir() + "/queries"
	if err := os.WriteFile(queries, []byte("flood.example.org A\n"), 0o644); err != nil {
		b.Fatal(err)
	}
	var out strings.Builder
	cmd := exec.Command("dnsperf", "-s", server.Addr().String(), "-p", strconv.Itoa(int(server.Port())),
		"-a", src, "-d", queries, "-l", "600", "-c", "10", "-q", "10000", "-t", "1")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		b.Fatalf("dnsperf: %v", err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return func() string {
		cmd.Process.Signal(os.Interrupt) // dnsperf prints its summary on SIGINT
		cmd.Wait()
		var sum []string
		for _, line := range strings.Split(out.String(), "\n") {
			if l := strings.TrimSpace(line); strings.HasPrefix(l, "Queries per second") || strings.HasPrefix(l, "Queries lost") {
				sum = append(sum, l)
			}
		}
		return "dnsperf: " + strings.Join(sum, "; ")
	}
}

// halt stops the flood and waits for its goroutines; safe to call twice.
func (f *flooder) halt() {
	f.stop()
	f.done.Wait()
}

// askPaced sends n A queries from src, one every gap, each with up to
// tries tries of the given timeout (as a stub resolver retransmits), and
// returns how many got the portal's answer.
func askPaced(t testing.TB, server netip.AddrPort, src, portal string, n, tries int, gap, timeout time.Duration) int {
	t.Helper()
	c := &mdns.Client{Net: "udp", Timeout: timeout,
		Dialer: &net.Dialer{LocalAddr: &net.UDPAddr{IP: net.ParseIP(src)}, Timeout: timeout}}
	ok := 0
	next := time.Now()
	for i := range n {
		m := new(mdns.Msg)
		m.SetQuestion(fmt.Sprintf("site%d.example.org.", i), mdns.TypeA)
		for range tries {
			r, _, err := c.Exchange(m, server.String())
			if err != nil {
				continue // no answer in time: try again, as a stub does
			}
			if r.Rcode == mdns.RcodeSuccess && len(r.Answer) == 1 {
				if a, isA := r.Answer[0].(*mdns.A); isA && a.A.String() == portal {
					ok++
				}
			}
			break
		}
		next = next.Add(gap)
		if d := time.Until(next); d > 0 {
			time.Sleep(d) // pacing a normal client
		}
	}
	return ok
}

// TestFloodingClientLeavesOthersServed: one client (127.0.0.2) floods the
// real embedded CoreDNS at 2000 queries a second, twenty times its limit;
// another client (127.0.0.3) asks at a normal pace and gets every answer
// (within two tries of a second, as a stub resolver retransmits), and so
// does real dig from a third (127.0.0.4). The flooder gets no more answers
// than its rate allows; the rest is dropped and counted. Before the limit
// the flooder got every answer the server could give, and under the race
// detector the other client lost some of its queries (issue 11, item 6).
//
// How many queries a second the machine can drop before the kernel's
// socket buffer overflows is a capacity, measured by BenchmarkDNSFlood and
// recorded in docs/BENCHMARKS.md, not asserted here.
func TestFloodingClientLeavesOthersServed(t *testing.T) {
	needDig(t)
	mgr := newManager(t)
	reg := prometheus.NewRegistry()
	cfg := dns.DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.PortalIP = "10.1.0.1"
	cfg.RateLimit, cfg.RateBurst = 100, 200
	srv := startDNS(t, cfg, mgr, reg)
	addr := srv.Addr()

	start := time.Now()
	flood := startFlood(t, addr, "127.0.0.2", 2000, 2)
	// The flood is under way once the limiter has dropped some of it.
	seen := testtool.Poll(10*time.Second, func() bool {
		return testtool.Counter(t, reg, "roamgate_dns_queries_total", "result", "ratelimited", "qtype", "A") >= 100
	})
	if !seen {
		t.Fatalf("flood not seen by the server: sent %d", flood.sent.Load())
	}

	const n = 100
	ok := askPaced(t, addr, "127.0.0.3", "10.1.0.1", n, 2, 20*time.Millisecond, time.Second)
	for i := range 3 {
		dig(t, addr, fmt.Sprintf("dig%d.example.org", i), "A", "-b", "127.0.0.4", "+tries=2").is(t, "dig during the flood", "NOERROR", "10.1.0.1")
	}
	flood.halt()
	elapsed := time.Since(start)

	if ok < n {
		t.Errorf("the other client got %d of %d answers during the flood, want all", ok, n)
	}
	sent, answered := flood.sent.Load(), flood.answered.Load()
	allowed := int64(cfg.RateBurst) + int64(elapsed.Seconds()*float64(cfg.RateLimit)) + 10
	if answered > allowed {
		t.Errorf("the flooder got %d answers to %d queries in %v, want at most %d (burst %d + %d/s)",
			answered, sent, elapsed.Round(time.Millisecond), allowed, cfg.RateBurst, cfg.RateLimit)
	}
	limited := testtool.Counter(t, reg, "roamgate_dns_queries_total", "result", "ratelimited", "qtype", "A")
	// Every flood query the server saw was answered or dropped and
	// counted; the kernel may have lost some before it.
	if limited == 0 || limited+float64(answered) > float64(sent) {
		t.Errorf("ratelimited counter %v for %d sent and %d answered", limited, sent, answered)
	}
	t.Logf("flood: %d sent, %d answered, %v dropped by the limit; other client %d/%d", sent, answered, limited, ok, n)
}

// BenchmarkDNSFlood is `make bench-dns-flood`: a second client's success
// rate while one client floods, with the per-client limit off (as before
// issue 11) and on, alternating in the same run. The flood comes from
// 127.0.0.2, open loop at each rate of ROAMGATE_DNSFLOOD_RATES (default
// "dnsperf,50000,100000,150000" queries a second), or, for "dnsperf", from
// real dnsperf (-c 10 -q 10000: closed loop, as many queries in flight as
// it can keep); the second client (127.0.0.3) asks 200 names at 50 a
// second, one try each with a one-second timeout. It runs only with
// ROAMGATE_DNSFLOOD=1.
func BenchmarkDNSFlood(b *testing.B) {
	if os.Getenv("ROAMGATE_DNSFLOOD") != "1" {
		b.Skip("set ROAMGATE_DNSFLOOD=1 (make bench-dns-flood)")
	}
	rates := []string{"dnsperf", "50000", "100000", "150000"}
	if s := os.Getenv("ROAMGATE_DNSFLOOD_RATES"); s != "" {
		rates = strings.Split(s, ",")
	}
	const n = 200
	for _, r := range rates {
		r = strings.TrimSpace(r)
		rate, err := strconv.Atoi(r)
		if err != nil && r != "dnsperf" {
			b.Fatalf("flood rate %q is neither a number nor dnsperf", r)
		}
		for _, limited := range []bool{false, true} {
			mgr := newManager(b)
			cfg := dns.DefaultConfig()
			cfg.Listen = "127.0.0.1:0"
			cfg.PortalIP = "10.1.0.1"
			if !limited {
				cfg.RateLimit = 0
			}
			srv := startDNS(b, cfg, mgr, nil)
			var stop func() string
			if r == "dnsperf" {
				stop = floodDNSPerf(b, srv.Addr(), "127.0.0.2")
			} else {
				f := startFlood(b, srv.Addr(), "127.0.0.2", rate, 4)
				stop = func() string {
					f.halt()
					return fmt.Sprintf("sent %d, answered %d", f.sent.Load(), f.answered.Load())
				}
			}
			time.Sleep(500 * time.Millisecond) // let the flood build up (a benchmark, not a test)
			start := time.Now()
			ok := askPaced(b, srv.Addr(), "127.0.0.3", "10.1.0.1", n, 1, 20*time.Millisecond, time.Second)
			elapsed := time.Since(start)
			b.Logf("flood %-7s limit %-5v: second client %3d/%d answered (%.1f %%) in %v; flooder %s",
				r, limited, ok, n, 100*float64(ok)/n, elapsed.Round(time.Millisecond), stop())
		}
	}
	b.ReportMetric(0, "ns/op")
}

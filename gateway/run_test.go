package gateway_test

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	mdns "github.com/miekg/dns"
	layeh "layeh.com/radius"

	"roamgate/gateway"
	"roamgate/internal/servertest"
)

// TestRunServesOnlyWhileRunning: New binds every listener and answers
// nothing; Run serves all of them, including the requests sent before it;
// the end of Run's context stops every server through Shutdown and frees
// every port before Run returns.
func TestRunServesOnlyWhileRunning(t *testing.T) {
	cfg := testConfig(t, t.TempDir())
	g, err := gateway.New(context.Background(), cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	a := g.Addrs()
	sockets := []struct{ network, addr string }{
		{"tcp", a.Portal}, {"udp", a.RADIUSAuth}, {"udp", a.RADIUSAcct}, {"udp", a.DNS}, {"tcp", a.DNS}, {"tcp", a.Admin},
	}
	probes := map[string]func(context.Context) error{
		"portal": func(ctx context.Context) error {
			return servertest.HTTPGet(ctx, netip.MustParseAddrPort(a.Portal), "/healthz")
		},
		"admin": func(ctx context.Context) error {
			return servertest.HTTPGet(ctx, netip.MustParseAddrPort(a.Admin), "/healthz")
		},
		"radius auth": func(ctx context.Context) error { return statusServer(ctx, a.RADIUSAuth) },
		"radius acct": func(ctx context.Context) error { return statusServer(ctx, a.RADIUSAcct) },
		"dns udp":     func(ctx context.Context) error { return dnsQuery(ctx, "udp", a.DNS) },
		"dns tcp":     func(ctx context.Context) error { return dnsQuery(ctx, "tcp", a.DNS) },
	}

	// Requests sent before Run wait in the sockets New bound.
	pctx, cancelProbes := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancelProbes()
	var mu sync.Mutex
	answered := map[string]error{}
	var wg sync.WaitGroup
	for name, probe := range probes {
		wg.Go(func() {
			err := probe(pctx)
			mu.Lock()
			answered[name] = err
			mu.Unlock()
		})
	}
	time.Sleep(200 * time.Millisecond) // the window in which nothing may answer
	mu.Lock()
	for name, err := range answered {
		t.Errorf("%s answered (or failed: %v) before Run", name, err)
	}
	mu.Unlock()

	ctx, cancel := context.WithCancel(context.Background())
	ran := make(chan error, 1)
	go func() { ran <- g.Run(ctx) }()
	wg.Wait()
	for name, err := range answered {
		if err != nil {
			t.Errorf("%s: the request sent before Run is not answered: %v", name, err)
		}
	}

	cancel()
	select {
	case err := <-ran:
		if err != nil {
			t.Errorf("Run = %v, want nil", err)
		}
	case <-time.After(gateway.ShutdownTimeout + 5*time.Second):
		t.Fatal("Run did not return after its context ended")
	}
	for _, s := range sockets {
		if err := bind(s.network, s.addr); err != nil {
			t.Errorf("%s/%s not free after Run: %v", s.addr, s.network, err)
		}
	}
}

func bind(network, addr string) error {
	if network == "udp" {
		c, err := net.ListenPacket("udp", addr)
		if err != nil {
			return err
		}
		return c.Close()
	}
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return l.Close()
}

// statusServer sends a signed Status-Server (RFC 5997) as the demo client.
func statusServer(ctx context.Context, addr string) error {
	p := layeh.New(layeh.CodeStatusServer, []byte("testing123"))
	ma := make(layeh.Attribute, 16)
	p.Add(80, ma) // Message-Authenticator
	b, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	h := hmac.New(md5.New, p.Secret)
	h.Write(b)
	copy(ma, h.Sum(nil))
	c := layeh.Client{Retry: 0, MaxPacketErrors: 1}
	_, err = c.Exchange(ctx, p, addr)
	return err
}

// dnsQuery asks for an OS probe host, which the captive DNS always answers.
func dnsQuery(ctx context.Context, network, addr string) error {
	q := new(mdns.Msg)
	q.SetQuestion("captive.apple.com.", mdns.TypeA)
	r, _, err := (&mdns.Client{Net: network}).ExchangeContext(ctx, q, addr)
	if err != nil {
		return err
	}
	if r.Rcode != mdns.RcodeSuccess || len(r.Answer) == 0 {
		return fmt.Errorf("%s: %s with %d answers", network, mdns.RcodeToString[r.Rcode], len(r.Answer))
	}
	return nil
}

package dns_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"testing"

	mdns "github.com/miekg/dns"

	"roamgate/dns"
	"roamgate/internal/servertest"
	"roamgate/session"
)

// TestServerContract runs the lifecycle every server shares (DESIGN §2a).
// The probe is a query over UDP and one over TCP from a signed-in client,
// so that it passes the whole plugin chain and forward's connections to
// the upstream.
func TestServerContract(t *testing.T) {
	mgr := newManager(t)
	if _, _, err := mgr.Create(context.Background(), session.CreateRequest{Network: "wifi4eu", ClientIP: netip.MustParseAddr("127.0.0.1")}); err != nil {
		t.Fatal(err)
	}
	upstream := startUpstream(t)
	servertest.Run(t, servertest.Harness{
		Listeners: []servertest.Listener{{Key: "dns.listen", Networks: []string{"udp", "tcp"}}},
		New: func(t *testing.T, listen []string) servertest.Server {
			cfg := dns.DefaultConfig()
			cfg.Listen = listen[0]
			cfg.Upstream = []string{upstream}
			s, err := dns.New(cfg, dns.Deps{Sessions: mgr})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Addrs: func(s servertest.Server) []netip.AddrPort {
			return []netip.AddrPort{s.(*dns.Server).Addr()}
		},
		Probe: func(ctx context.Context, s servertest.Server) error {
			addr := s.(*dns.Server).Addr()
			networks := []string{"udp", "tcp"}
			errs := make([]error, len(networks))
			var wg sync.WaitGroup
			for i, network := range networks {
				wg.Go(func() { errs[i] = query(ctx, network, addr) })
			}
			wg.Wait()
			return errors.Join(errs...)
		},
		ErrServerClosed: dns.ErrServerClosed,
	})
}

// query asks addr for an A record the upstream answers.
func query(ctx context.Context, network string, addr netip.AddrPort) error {
	q := new(mdns.Msg)
	q.SetQuestion("example.org.", mdns.TypeA)
	c := &mdns.Client{Net: network}
	r, _, err := c.ExchangeContext(ctx, q, addr.String())
	if err != nil {
		return fmt.Errorf("%s: %w", network, err)
	}
	if len(r.Answer) != 1 || r.Answer[0].(*mdns.A).A.String() != upstreamA {
		return fmt.Errorf("%s: answer %v, want %s from the upstream", network, r.Answer, upstreamA)
	}
	return nil
}

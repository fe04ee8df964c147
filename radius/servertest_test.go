package radius

import (
	"context"
	"crypto/hmac"
	"crypto/md5"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"testing"

	layeh "layeh.com/radius"

	"roamgate/internal/servertest"
)

// TestServerContract runs the lifecycle every server shares (DESIGN §2a).
// The probe is a Status-Server (RFC 5997) on both sockets.
func TestServerContract(t *testing.T) {
	sessions := newFakeSessions()
	servertest.Run(t, servertest.Harness{
		Listeners: []servertest.Listener{
			{Key: "radius.auth_listen", Networks: []string{"udp"}},
			{Key: "radius.acct_listen", Networks: []string{"udp"}},
		},
		New: func(t *testing.T, listen []string) servertest.Server {
			cfg := testConfig()
			cfg.AuthListen, cfg.AcctListen = listen[0], listen[1]
			s, err := New(cfg, Deps{Sessions: sessions})
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Addrs: func(s servertest.Server) []netip.AddrPort {
			srv := s.(*Server)
			return []netip.AddrPort{servertest.AddrPort(srv.AuthAddr()), servertest.AddrPort(srv.AcctAddr())}
		},
		Probe: func(ctx context.Context, s servertest.Server) error {
			srv := s.(*Server)
			addrs := []net.Addr{srv.AuthAddr(), srv.AcctAddr()}
			errs := make([]error, len(addrs))
			var wg sync.WaitGroup
			for i, a := range addrs {
				wg.Go(func() { errs[i] = statusServer(ctx, a) })
			}
			wg.Wait()
			return errors.Join(errs...)
		},
		ErrServerClosed: ErrServerClosed,
	})
}

// statusServer sends one signed Status-Server and waits for its answer.
func statusServer(ctx context.Context, addr net.Addr) error {
	p := layeh.New(layeh.CodeStatusServer, []byte(testSecret))
	ma := make(layeh.Attribute, 16)
	p.Add(80, ma) // Message-Authenticator, required on Status-Server
	b, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	h := hmac.New(md5.New, p.Secret)
	h.Write(b)
	copy(ma, h.Sum(nil))
	c := layeh.Client{Retry: 0, MaxPacketErrors: 1}
	if _, err := c.Exchange(ctx, p, addr.String()); err != nil {
		return fmt.Errorf("Status-Server to %s: %w", addr, err)
	}
	return nil
}

package admin

import (
	"context"
	"net/netip"
	"testing"

	"roamgate/internal/servertest"
)

// TestServerContract runs the lifecycle every server shares (DESIGN §2a).
func TestServerContract(t *testing.T) {
	sc := newScenario(t)
	users := testUsers(t)
	servertest.Run(t, servertest.Harness{
		Listeners: []servertest.Listener{{Key: "admin.listen", Networks: []string{"tcp"}}},
		New: func(t *testing.T, listen []string) servertest.Server {
			s, err := New(Config{Listen: listen[0], Users: users}, sc.deps())
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
		Addrs: func(s servertest.Server) []netip.AddrPort {
			return []netip.AddrPort{servertest.AddrPort(s.(*Server).Addr())}
		},
		Probe: func(ctx context.Context, s servertest.Server) error {
			return servertest.HTTPGet(ctx, servertest.AddrPort(s.(*Server).Addr()), "/healthz")
		},
		ErrServerClosed: ErrServerClosed,
	})
}

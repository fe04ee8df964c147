package portal

import (
	"context"
	"net/netip"
	"testing"

	"roamgate/internal/servertest"
)

// TestServerContract runs the lifecycle every server shares (DESIGN §2a),
// with the per-client connection limit in front of fiber.
func TestServerContract(t *testing.T) {
	servertest.Run(t, servertest.Harness{
		Listeners: []servertest.Listener{{Key: "portal.listen", Networks: []string{"tcp"}}},
		New: func(t *testing.T, listen []string) servertest.Server {
			return newTestEnv(t, Config{Listen: listen[0]}).srv
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

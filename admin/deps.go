package admin

import (
	"context"
	"log/slog"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"roamgate/history"
	"roamgate/session"
)

// Sessions is what the admin listener needs of the session manager
// (*session.Manager implements it).
type Sessions interface {
	Stats() session.Stats
	// CountByAP counts the live sessions by access point.
	CountByAP() map[string]int
	// Live returns the live sessions, newest first.
	Live() []session.Session
}

// Revoker ends a session everywhere and asks its access point to drop the
// device (RFC 5176 Disconnect-Request). The gateway wires the session
// manager and the RADIUS Disconnect client behind it.
type Revoker interface {
	// Revoke returns session.ErrNotFound for an unknown or ended session.
	Revoke(ctx context.Context, id string) (RevokeResult, error)
}

// Disconnect is what came of the Disconnect-Request sent to the NAS.
type Disconnect string

// Disconnect outcomes.
const (
	DisconnectACK     Disconnect = "ack"      // the NAS dropped the device
	DisconnectNAK     Disconnect = "nak"      // the NAS refused (Error-Cause in Detail)
	DisconnectTimeout Disconnect = "timeout"  // no answer after the retries
	DisconnectNotSent Disconnect = "not_sent" // no NAS known for the session
)

// RevokeResult says how a revocation went at the access point. The
// session is revoked in any case once Revoke returns without error.
type RevokeResult struct {
	Disconnect Disconnect
	// Detail is a short human-readable note (e.g. the Error-Cause of a NAK).
	Detail string
}

// History is the statistics of the past (*history.Recorder implements it).
type History interface {
	Series(ctx context.Context, from, to time.Time, step history.Step) ([]history.Point, error)
	Rows(ctx context.Context, from, to time.Time) ([]history.Row, error)
}

// Generations keeps a token generation per admin user name, raised when
// the admin signs out (session.AdminStore: *sqlite.Store, *redis.Store).
type Generations interface {
	// AdminGeneration is the current generation of name: 0 if never raised.
	AdminGeneration(ctx context.Context, name string) (uint64, error)
	// RaiseAdminGeneration raises it by one and returns the new value.
	RaiseAdminGeneration(ctx context.Context, name string) (uint64, error)
}

// Deps are the collaborators of the admin server.
type Deps struct {
	Sessions Sessions
	// Revoker ends sessions; nil disables revocation (503).
	Revoker Revoker
	// Crisis switches crisis mode (crisis.go); nil disables it (503).
	Crisis CrisisSwitch
	// CrisisMessages are the default crisis messages by language, for a
	// switch that gives none in a language (the gateway's built-in texts
	// with crisis.message over them); nil means the built-in texts.
	CrisisMessages map[string]string
	// History feeds the charts and the CSV export; nil shows none.
	History History
	// Locations and Networks are the configured IDs, listed with zero counts
	// so that an empty place shows as 0, not as missing.
	Locations []string
	Networks  []string
	// LocationNames are display names by location ID (optional).
	LocationNames map[string]string
	// UnsignedClients names the RADIUS clients that run without
	// Message-Authenticator (radius.Server.UnsignedClients): the dashboard
	// lists them, so the Blast-RADIUS exposure stays in sight. Optional.
	UnsignedClients []string
	// Places are the locations with coordinates (the gateway's
	// locations[].lat/lon), drawn as a map on the dashboard when any has
	// some (optional). A place at exactly (0, 0) counts as none.
	Places []Place
	// Logins keeps the admins' sign-outs (a token generation per admin) in
	// the session store, so that a sign-out outlasts a restart and reaches
	// every gateway on the store; nil keeps them in this process only.
	Logins Generations
	// TokenKey signs admin tokens and CSRF values: at least 32 bytes,
	// derived from the site key for this use only.
	TokenKey []byte
	// Gatherer is served at /metrics (the gateway's one registry); nil
	// serves 404.
	Gatherer prometheus.Gatherer
	// Registerer gets the admin listener's own metrics; nil registers none.
	Registerer prometheus.Registerer
	// Ready reports whether the gateway can serve (store reachable, all
	// listeners up); nil means always ready.
	Ready func(ctx context.Context) error
	// Logger defaults to slog.Default(). Logins and revocations are
	// written to it as audit lines.
	Logger *slog.Logger
	// Now defaults to time.Now.
	Now func() time.Time
}

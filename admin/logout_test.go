package admin

import (
	"context"
	"errors"
	"log/slog"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"roamgate/internal/redistest"
	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/redis"
	"roamgate/session/sqlite"
)

// logoutWith signs the admin of c's bearer token out.
func logoutWith(t *testing.T, c *client) {
	t.Helper()
	if resp, body := c.do("POST", "/logout", nil, nil); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("logout: %d %s", resp.StatusCode, body)
	}
}

// statsWith reads the stats with c's bearer token and returns the status.
func statsWith(t *testing.T, s *Server, token string) int {
	t.Helper()
	c := newClient(t, s)
	c.bearer = token
	resp, _ := c.do("GET", "/api/v1/stats", nil, nil)
	return resp.StatusCode
}

// TestLogoutSurvivesRestart is issue 11 item 4: a token of an admin who
// signed out stays refused by an admin listener started afterwards on the
// same SQLite store, as after a restart of the gateway.
func TestLogoutSurvivesRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "sessions.db")
	open := func() *sqlite.Store {
		st, err := sqlite.Open(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	sc := newScenario(t)
	users := testUsers(t)
	st := open()
	deps := sc.deps()
	deps.Logins = st
	a := startAdmin(t, Config{Users: users}, deps)
	ops := bearerFor(t, a, "ops", opsPassword)
	viewer := bearerFor(t, a, "viewer", viewerPassword)
	other := bearerFor(t, a, "ops", opsPassword) // the same admin on another device
	logoutWith(t, ops)
	for _, tok := range []string{ops.bearer, other.bearer} {
		if got := statsWith(t, a, tok); got != http.StatusUnauthorized {
			t.Fatalf("token of a signed-out admin at the same listener: %d, want 401", got)
		}
	}
	if err := a.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	st.Close()

	// "Restart": a new listener on the reopened store.
	st = open()
	defer st.Close()
	deps = sc.deps()
	deps.Logins = st
	b := startAdmin(t, Config{Users: users}, deps)
	if got := statsWith(t, b, ops.bearer); got != http.StatusUnauthorized {
		t.Errorf("token of a signed-out admin after a restart: %d, want 401", got)
	}
	if got := statsWith(t, b, other.bearer); got != http.StatusUnauthorized {
		t.Errorf("the signed-out admin's other token after a restart: %d, want 401", got)
	}
	if got := statsWith(t, b, viewer.bearer); got != http.StatusOK {
		t.Errorf("another admin's token after the restart: %d, want 200", got)
	}
	again := bearerFor(t, b, "ops", opsPassword)
	if got := statsWith(t, b, again.bearer); got != http.StatusOK {
		t.Errorf("a new sign-in after the sign-out: %d, want 200", got)
	}
}

// TestLogoutAcrossGateways: two gateways' admin listeners on one Redis; a
// sign-out at A refuses the token at B at once.
func TestLogoutAcrossGateways(t *testing.T) {
	srv := redistest.Start(t)
	open := func() *redis.Store {
		st, _, err := redis.Open(context.Background(), redis.Options{Addr: srv.Addr()})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		return st
	}
	sc := newScenario(t)
	users := testUsers(t)
	var servers []*Server
	for range 2 {
		deps := sc.deps()
		deps.Logins = open()
		servers = append(servers, startAdmin(t, Config{Users: users}, deps))
	}
	a, b := servers[0], servers[1]
	ops := bearerFor(t, a, "ops", opsPassword)
	viewer := bearerFor(t, b, "viewer", viewerPassword)
	if got := statsWith(t, b, ops.bearer); got != http.StatusOK {
		t.Fatalf("A's token at B before the sign-out: %d, want 200", got)
	}
	logoutWith(t, ops)
	if got := statsWith(t, b, ops.bearer); got != http.StatusUnauthorized {
		t.Errorf("token signed out at A, used at B: %d, want 401", got)
	}
	if got := statsWith(t, a, viewer.bearer); got != http.StatusOK {
		t.Errorf("another admin's token at A: %d, want 200", got)
	}
}

var _ session.AdminStore = (*sqlite.Store)(nil)

// flakyGenerations is a store that can stop answering.
type flakyGenerations struct {
	memGenerations
	down atomic.Bool
}

func (f *flakyGenerations) AdminGeneration(ctx context.Context, name string) (uint64, error) {
	if f.down.Load() {
		return 0, errors.New("connection refused")
	}
	return f.memGenerations.AdminGeneration(ctx, name)
}

func (f *flakyGenerations) RaiseAdminGeneration(ctx context.Context, name string) (uint64, error) {
	if f.down.Load() {
		return 0, errors.New("connection refused")
	}
	return f.memGenerations.RaiseAdminGeneration(ctx, name)
}

// TestLogoutStoreAway: while the store does not answer, signed-in admins
// keep their dashboard (the last generation read holds), a sign-out is
// refused loudly instead of pretending, and a new sign-in is 503.
func TestLogoutStoreAway(t *testing.T) {
	var logs testtool.LogBuffer
	gens := &flakyGenerations{memGenerations: memGenerations{m: map[string]uint64{}}}
	deps := newScenario(t).deps()
	deps.Logins = gens
	deps.Logger = slog.New(slog.NewJSONHandler(&logs, nil))
	s := startAdmin(t, Config{Users: testUsers(t)}, deps)
	ops := bearerFor(t, s, "ops", opsPassword)
	gens.down.Store(true)
	if got := statsWith(t, s, ops.bearer); got != http.StatusOK {
		t.Fatalf("signed-in admin while the store is away: %d, want 200", got)
	}
	if resp, _ := ops.do("POST", "/logout", nil, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("sign-out while the store is away: %d, want 503", resp.StatusCode)
	}
	if !strings.Contains(logs.String(), `"msg":"admin audit: sign-out not stored","admin":"ops"`) {
		t.Errorf("no audit line for the lost sign-out:\n%s", logs.String())
	}
	c := newClient(t, s)
	if resp, _ := c.do("POST", "/api/v1/token", url.Values{"name": {"viewer"}, "password": {viewerPassword}}, nil); resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("new sign-in of an admin never read while the store is away: %d, want 503", resp.StatusCode)
	}
	gens.down.Store(false)
	logoutWith(t, ops)
	if got := statsWith(t, s, ops.bearer); got != http.StatusUnauthorized {
		t.Errorf("token after the sign-out went through: %d, want 401", got)
	}
}

// TestTokenFollowsConfig: a token is refused once its admin is no longer
// configured, and carries the configured role, not the one it was issued
// with.
func TestTokenFollowsConfig(t *testing.T) {
	sc := newScenario(t)
	users := testUsers(t)
	a := startAdmin(t, Config{Users: users}, sc.deps())
	ops := bearerFor(t, a, "ops", opsPassword)

	demoted := append([]User(nil), users...)
	demoted[0].Role = Viewer
	b := startAdmin(t, Config{Users: demoted}, sc.deps())
	c := newClient(t, b)
	c.bearer = ops.bearer
	if resp, body := c.do("POST", "/api/v1/sessions/"+sc.ids[0]+"/revoke", nil, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("a demoted operator's old token revokes: %d %s, want 403", resp.StatusCode, body)
	}
	gone := startAdmin(t, Config{Users: users[1:]}, sc.deps())
	if got := statsWith(t, gone, ops.bearer); got != http.StatusUnauthorized {
		t.Errorf("token of an admin removed from the config: %d, want 401", got)
	}
}

package gateway_test

import (
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"testing"

	"roamgate/internal/testtool"
)

// adminToken signs in at the admin API and returns a bearer token.
func adminToken(t *testing.T, admin, password string) string {
	t.Helper()
	resp, err := http.PostForm("http://"+admin+"/api/v1/token", url.Values{"name": {"admin"}, "password": {password}})
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var tok struct {
		Token string `json:"token"`
	}
	if err := json.NewDecoder(resp.Body).Decode(&tok); err != nil || resp.StatusCode != http.StatusOK || tok.Token == "" {
		t.Fatalf("token: %d %v", resp.StatusCode, err)
	}
	return tok.Token
}

// adminDo sends method path to admin with a bearer token and returns the
// status.
func adminDo(t *testing.T, admin, method, path, token string) int {
	t.Helper()
	req, _ := http.NewRequest(method, "http://"+admin+path, nil)
	req.Header.Set("Authorization", "Bearer "+token)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// TestAdminLogoutSurvivesRestart is issue 11 item 4 at the gateway: the
// store the gateway opens keeps the sign-out, so the token stays refused
// after the gateway restarts on the same data directory.
func TestAdminLogoutSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	var logs testtool.LogBuffer
	gw := startGateway(t, testConfig(t, dir), &logs)
	addr := gw.g.Addrs().Admin
	tok := adminToken(t, addr, gw.g.DemoPassword())
	if got := adminDo(t, addr, "GET", "/api/v1/stats", tok); got != http.StatusOK {
		t.Fatalf("stats with a fresh token: %d", got)
	}
	if got := adminDo(t, addr, "POST", "/logout", tok); got != http.StatusSeeOther {
		t.Fatalf("logout: %d", got)
	}
	if err := gw.stop(); err != nil {
		t.Fatal(err)
	}

	gw = startGateway(t, testConfig(t, dir), &logs)
	addr = gw.g.Addrs().Admin
	if got := adminDo(t, addr, "GET", "/api/v1/stats", tok); got != http.StatusUnauthorized {
		t.Errorf("the signed-out token after a restart: %d, want 401", got)
	}
	if fresh := adminToken(t, addr, gw.g.DemoPassword()); adminDo(t, addr, "GET", "/api/v1/stats", fresh) != http.StatusOK {
		t.Error("a new sign-in after the restart is refused")
	}
	if !regexp.MustCompile(`msg="admin audit: signed out" .*admin=admin`).MatchString(logs.String()) {
		t.Error("no audit line for the sign-out")
	}
}

package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"roamgate/session"
)

type fixedStats session.Stats

func (f fixedStats) Stats() session.Stats { return session.Stats(f) }

func startAdmin(t *testing.T, cfg Config, deps Deps) *Server {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	s, err := New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := s.Shutdown(context.Background()); err != nil {
			t.Error(err)
		}
		if err := <-done; err != nil {
			t.Error(err)
		}
	})
	return s
}

func get(t *testing.T, s *Server, path, user, password string) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", "http://"+s.Addr().String()+path, nil)
	if user != "" {
		req.SetBasicAuth(user, password)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(body)
}

func TestStatsAPI(t *testing.T) {
	argon, err := HashPassword("correct horse")
	if err != nil {
		t.Fatal(err)
	}
	bc, err := bcrypt.GenerateFromPassword([]byte("battery staple"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{Users: []User{{Name: "it", PasswordHash: argon}, {Name: "ops", PasswordHash: string(bc)}}}
	if err := (Config{Listen: "127.0.0.1:0", Users: cfg.Users}).Validate(); err != nil {
		t.Fatal(err)
	}
	st := fixedStats{Active: 3, ByLocation: map[string]int{"bahnhof": 2, "": 1}, ByNetwork: map[string]int{"wifi4eu": 3}}
	s := startAdmin(t, cfg, Deps{Sessions: st, Locations: []string{"bahnhof", "stadtpark"}, Networks: []string{"wifi4eu", "stadt"}})

	tests := []struct {
		name, user, password string
		status               int
	}{
		{"no credentials", "", "", http.StatusUnauthorized},
		{"wrong password", "it", "wrong", http.StatusUnauthorized},
		{"unknown user", "nobody", "correct horse", http.StatusUnauthorized},
		{"argon2id user", "it", "correct horse", http.StatusOK},
		{"argon2id user again (cached)", "it", "correct horse", http.StatusOK},
		{"bcrypt user", "ops", "battery staple", http.StatusOK},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, body := get(t, s, "/api/v1/stats", tt.user, tt.password)
			if resp.StatusCode != tt.status {
				t.Fatalf("status %d, want %d: %s", resp.StatusCode, tt.status, body)
			}
			if tt.status != http.StatusOK {
				if resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
				return
			}
			var got statsResponse
			if err := json.Unmarshal([]byte(body), &got); err != nil {
				t.Fatal(err)
			}
			if got.ActiveSessions != 3 || got.ByLocation["bahnhof"] != 2 || got.ByLocation["stadtpark"] != 0 ||
				got.ByLocation["unknown"] != 1 || got.ByNetwork["stadt"] != 0 || got.ByNetwork["wifi4eu"] != 3 {
				t.Fatalf("stats = %+v", got)
			}
			if _, ok := got.ByLocation["stadtpark"]; !ok {
				t.Error("a configured location with no sessions is missing instead of 0")
			}
		})
	}
}

func TestHealthAndReady(t *testing.T) {
	notReady := errors.New("store down")
	ready := error(nil)
	s := startAdmin(t, Config{}, Deps{Sessions: fixedStats{}, Ready: func(context.Context) error { return ready }})
	if resp, body := get(t, s, "/healthz", "", ""); resp.StatusCode != 200 || body != "ok" {
		t.Fatalf("healthz: %d %q", resp.StatusCode, body)
	}
	if resp, _ := get(t, s, "/readyz", "", ""); resp.StatusCode != 200 {
		t.Fatalf("readyz: %d", resp.StatusCode)
	}
	ready = notReady
	if resp, body := get(t, s, "/readyz", "", ""); resp.StatusCode != 503 || !strings.Contains(body, "store down") {
		t.Fatalf("readyz while not ready: %d %q", resp.StatusCode, body)
	}
}

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"bad listen", Config{Listen: "9080"}, `admin.listen: "9080" is not host:port`},
		{"missing name", Config{Listen: ":1", Users: []User{{PasswordHash: "$2b$x"}}}, "admin.users[0].name: missing"},
		{"plain password", Config{Listen: ":1", Users: []User{{Name: "a", PasswordHash: "hunter2"}}}, "admin.users[0].password_hash"},
		{"duplicate", Config{Listen: ":1", Users: []User{{Name: "a", PasswordHash: "$2b$x"}, {Name: "a", PasswordHash: "$2b$x"}}}, `admin.users[1].name: "a" is used twice`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestBasicAuthParsing(t *testing.T) {
	tests := []struct {
		header, name, password string
		ok                     bool
	}{
		{"Basic aXQ6cHc=", "it", "pw", true},
		{"basic aXQ6cHc=", "it", "pw", true},
		{"Bearer aXQ6cHc=", "", "", false},
		{"Basic !!!", "", "", false},
		{"Basic aXRwdw==", "", "", false}, // no colon
		{"Basic " + strings.Repeat("A", 2000), "", "", false},
	}
	for _, tt := range tests {
		n, p, ok := basicAuth(tt.header)
		if ok != tt.ok || (ok && (n != tt.name || p != tt.password)) {
			t.Errorf("basicAuth(%.20q) = %q %q %v", tt.header, n, p, ok)
		}
	}
}

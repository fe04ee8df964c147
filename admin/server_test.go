package admin

import (
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"roamgate/session"
)

func bearerFor(t *testing.T, s *Server, name, password string) *client {
	t.Helper()
	c := newClient(t, s)
	resp, body := c.do("POST", "/api/v1/token", url.Values{"name": {name}, "password": {password}}, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("token for %s: %d %s", name, resp.StatusCode, body)
	}
	var tok struct {
		Token     string `json:"token"`
		TokenType string `json:"token_type"`
	}
	if err := json.Unmarshal([]byte(body), &tok); err != nil {
		t.Fatal(err)
	}
	if tok.Token == "" || tok.TokenType != "Bearer" {
		t.Fatalf("token response %s", body)
	}
	c.bearer = tok.Token
	return c
}

func getStats(t *testing.T, c *client, query string) statsResponse {
	t.Helper()
	resp, body := c.do("GET", "/api/v1/stats"+query, nil, nil)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("stats: %d %s", resp.StatusCode, body)
	}
	var st statsResponse
	if err := json.Unmarshal([]byte(body), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

func sum(s series) int {
	n := 0
	for _, p := range s.Counts {
		n += p.Count
	}
	return n
}

func equalCounts(got, want map[string]int) bool {
	if len(got) != len(want) {
		return false
	}
	for k, v := range want {
		if g, ok := got[k]; !ok || g != v {
			return false
		}
	}
	return true
}

// TestScenarioAPI: the statistics match the scenario exactly, a viewer
// cannot revoke, an operator can, and the counts change.
func TestScenarioAPI(t *testing.T) {
	sc := newScenario(t)
	s := startAdmin(t, Config{Users: testUsers(t)}, sc.deps())
	ops := bearerFor(t, s, "ops", opsPassword)
	viewer := bearerFor(t, s, "viewer", viewerPassword)
	anon := newClient(t, s)
	clients := []*client{ops, viewer, anon}

	st := getStats(t, viewer, "")
	wantLoc := map[string]int{"bahnhof": 4, "stadtpark": 4, "brueckerfeld": 0, "rathaus": 0}
	wantNet := map[string]int{"wifi4eu": 5, "stadt": 3}
	wantAP := map[string]int{"bhf-ap1": 3, "bhf-ap2": 1, "park-ap1": 3, "park-ap2": 1}
	if st.ActiveSessions != 8 || !equalCounts(st.ByLocation, wantLoc) || !equalCounts(st.ByNetwork, wantNet) || !equalCounts(st.ByAP, wantAP) {
		t.Fatalf("stats = %+v\nwant 8, %v, %v, %v", st, wantLoc, wantNet, wantAP)
	}
	for _, k := range []string{"hourly", "daily"} {
		if got := sum(st.SignIns[k]); got != 8 {
			t.Errorf("%s sign-ins = %d, want 8", k, got)
		}
		if got := sum(st.Roams[k]); got != 1 {
			t.Errorf("%s roams = %d, want 1", k, got)
		}
	}
	if n := len(st.SignIns["hourly"].Counts); n != 24 {
		t.Errorf("hourly series has %d points, want 24", n)
	}
	if n := len(st.SignIns["daily"].Counts); n != 30 {
		t.Errorf("daily series has %d points, want 30", n)
	}
	if d := st.Devices["daily"].Counts; d[len(d)-1].Count != 8 {
		t.Errorf("distinct devices today = %d, want 8", d[len(d)-1].Count)
	}

	t.Run("time range and step", func(t *testing.T) {
		now := time.Now().UTC()
		q := "?step=hour&from=" + url.QueryEscape(now.Add(-2*time.Hour).Format(time.RFC3339)) + "&to=" + url.QueryEscape(now.Format(time.RFC3339))
		st := getStats(t, viewer, q)
		if len(st.SignIns) != 1 || len(st.SignIns["hourly"].Counts) != 3 || sum(st.SignIns["hourly"]) != 8 {
			t.Fatalf("ranged stats = %+v", st.SignIns)
		}
		for _, bad := range []string{"?step=week", "?from=yesterday", "?from=2026-05-02&to=2026-05-01", "?step=hour&from=2000-01-01"} {
			if resp, body := viewer.do("GET", "/api/v1/stats"+bad, nil, nil); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d %s, want 400", bad, resp.StatusCode, body)
			}
		}
	})

	t.Run("sessions list and filter", func(t *testing.T) {
		tests := []struct {
			query string
			want  int
		}{{"", 8}, {"?location=bahnhof", 4}, {"?location=stadtpark", 4}, {"?location=rathaus", 0}}
		for _, tt := range tests {
			resp, body := viewer.do("GET", "/api/v1/sessions"+tt.query, nil, nil)
			var got struct {
				Count    int           `json:"count"`
				Sessions []sessionView `json:"sessions"`
			}
			if err := json.Unmarshal([]byte(body), &got); err != nil || resp.StatusCode != 200 {
				t.Fatalf("%q: %d %v %s", tt.query, resp.StatusCode, err, body)
			}
			if got.Count != tt.want || len(got.Sessions) != tt.want {
				t.Errorf("%q: %d sessions, want %d", tt.query, got.Count, tt.want)
			}
			for _, v := range got.Sessions {
				if v.ID == sc.roamer && (v.Roams != 1 || v.Location != "stadtpark" || v.StartLocation != "bahnhof" || v.AP != "park-ap2") {
					t.Errorf("roamer = %+v", v)
				}
				if v.TimeLeftSeconds <= 3*3600 || v.TimeLeftSeconds > 4*3600 {
					t.Errorf("time left %d s, want about 4 h", v.TimeLeftSeconds)
				}
			}
		}
		resp, body := viewer.do("GET", "/api/v1/sessions?limit=3&offset=6", nil, nil)
		var page struct {
			Count    int           `json:"count"`
			Sessions []sessionView `json:"sessions"`
		}
		if err := json.Unmarshal([]byte(body), &page); err != nil || page.Count != 8 || len(page.Sessions) != 2 {
			t.Errorf("page 3 of 3: %d %s", resp.StatusCode, body)
		}
		for _, bad := range []string{"?limit=0", "?limit=100000", "?offset=-1", "?limit=x"} {
			if resp, _ := viewer.do("GET", "/api/v1/sessions"+bad, nil, nil); resp.StatusCode != http.StatusBadRequest {
				t.Errorf("%s: %d, want 400", bad, resp.StatusCode)
			}
		}
		if resp, _ := viewer.do("GET", "/sessions?location=bahnhof", nil, nil); resp.StatusCode != 200 {
			t.Errorf("sessions page for a bearer client: %d", resp.StatusCode)
		}
	})

	t.Run("CSV report", func(t *testing.T) {
		resp, body := viewer.do("GET", "/api/v1/stats.csv", nil, nil)
		if resp.StatusCode != 200 || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/csv") {
			t.Fatalf("csv: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		recs, err := csv.NewReader(strings.NewReader(body)).ReadAll()
		if err != nil {
			t.Fatal(err)
		}
		signins, roams := 0, 0
		for _, r := range recs[1:] {
			var a, b int
			fmt.Sscan(r[4], &a)
			fmt.Sscan(r[5], &b)
			signins, roams = signins+a, roams+b
		}
		if recs[0][0] != "day" || signins != 8 || roams != 1 || len(recs) != 1+4 {
			t.Fatalf("csv = %v", recs)
		}
	})

	t.Run("viewer cannot revoke", func(t *testing.T) {
		resp, body := viewer.do("POST", "/api/v1/sessions/"+sc.ids[0]+"/revoke", nil, nil)
		if resp.StatusCode != http.StatusForbidden {
			t.Fatalf("viewer revoke: %d %s", resp.StatusCode, body)
		}
		if _, err := sc.mgr.ByID(sc.ids[0]); err != nil {
			t.Fatalf("session ended after a refused revoke: %v", err)
		}
	})

	t.Run("anonymous is refused", func(t *testing.T) {
		for _, p := range []string{"/api/v1/stats", "/api/v1/sessions", "/api/v1/stats.csv"} {
			if resp, _ := anon.do("GET", p, nil, nil); resp.StatusCode != http.StatusUnauthorized {
				t.Errorf("%s: %d, want 401", p, resp.StatusCode)
			}
		}
		if resp, _ := anon.do("GET", "/", nil, nil); resp.StatusCode != http.StatusSeeOther || resp.Header.Get("Location") != "/login" {
			t.Errorf("dashboard: %d → %q, want 303 to /login", resp.StatusCode, resp.Header.Get("Location"))
		}
		if resp, _ := anon.do("POST", "/api/v1/sessions/"+sc.ids[0]+"/revoke", nil, nil); resp.StatusCode != http.StatusUnauthorized {
			t.Errorf("anonymous revoke: %d", resp.StatusCode)
		}
	})

	t.Run("HTTP Basic only reads", func(t *testing.T) {
		h := func(user, pw string) http.Header {
			r, _ := http.NewRequest("GET", "/", nil)
			r.SetBasicAuth(user, pw)
			return r.Header
		}
		tests := []struct {
			name, method, user, pw string
			status                 int
		}{
			{"argon2id user reads", "GET", "ops", opsPassword, 200},
			{"again, from the cache", "GET", "ops", opsPassword, 200},
			{"bcrypt user reads", "GET", "viewer", viewerPassword, 200},
			{"wrong password", "GET", "viewer", "nope", 401},
			{"no changes with Basic", "POST", "ops", opsPassword, 401},
		}
		for _, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				path := "/api/v1/stats"
				if tt.method == "POST" {
					path = "/api/v1/sessions/" + sc.ids[0] + "/revoke"
				}
				resp, body := anon.do(tt.method, path, nil, h(tt.user, tt.pw))
				if resp.StatusCode != tt.status {
					t.Fatalf("%d %s, want %d", resp.StatusCode, body, tt.status)
				}
				if tt.status == 401 && resp.Header.Get("WWW-Authenticate") == "" {
					t.Error("401 without WWW-Authenticate")
				}
			})
		}
		if _, err := sc.mgr.ByID(sc.ids[0]); err != nil {
			t.Fatalf("Basic credentials ended a session: %v", err)
		}
	})

	t.Run("operator revokes", func(t *testing.T) {
		for _, bad := range []struct {
			id   string
			code int
		}{{"not-an-id", 404}, {"0123456789abcdef0123456789abcdef", 404}} {
			if resp, body := ops.do("POST", "/api/v1/sessions/"+bad.id+"/revoke", nil, nil); resp.StatusCode != bad.code {
				t.Errorf("revoke %s: %d %s", bad.id, resp.StatusCode, body)
			}
		}
		resp, body := ops.do("POST", "/api/v1/sessions/"+sc.roamer+"/revoke", nil, nil)
		if resp.StatusCode != 200 || !strings.Contains(body, `"disconnect":"ack"`) {
			t.Fatalf("revoke: %d %s", resp.StatusCode, body)
		}
		if _, err := sc.mgr.ByID(sc.roamer); !errors.Is(err, session.ErrRevoked) {
			t.Fatalf("after revoke ByID = %v, want ErrRevoked", err)
		}
		if err := sc.hist.Flush(context.Background()); err != nil {
			t.Fatal(err)
		}
		// A retry (the operator's first answer may have been an error)
		// succeeds; that the session still ends once is
		// session.TestManagerRevokeRetried's.
		if resp, body := ops.do("POST", "/api/v1/sessions/"+sc.roamer+"/revoke", nil, nil); resp.StatusCode != http.StatusOK {
			t.Errorf("second revoke: %d %s, want 200", resp.StatusCode, body)
		}
		st := getStats(t, ops, "")
		if st.ActiveSessions != 7 || st.ByLocation["stadtpark"] != 3 || st.ByLocation["bahnhof"] != 4 || st.ByAP["park-ap2"] != 0 || st.ByNetwork["wifi4eu"] != 4 {
			t.Fatalf("after revoke: %+v", st)
		}
	})

	assertNoPersonalData(t, sc, clients...)
}

// assertNoPersonalData searches every response the clients got (headers
// and bodies) for the scenario's MACs in every notation, its IPs, tokens
// and MAC keys.
func assertNoPersonalData(t *testing.T, sc *scenario, clients ...*client) {
	t.Helper()
	var needles []string
	for _, m := range sc.macs {
		hex := strings.ReplaceAll(m.String(), ":", "")
		needles = append(needles, m.String(), strings.ReplaceAll(m.String(), ":", "-"), hex,
			hex[0:4]+"."+hex[4:8]+"."+hex[8:12])
	}
	for _, ip := range sc.ips {
		needles = append(needles, ip.String(), netipMapped(ip))
	}
	for _, tok := range sc.tokens {
		needles = append(needles, tok, tok[strings.LastIndexByte(tok, '.')+1:])
	}
	for _, k := range sc.keys {
		needles = append(needles, string(k))
	}
	n := 0
	for _, c := range clients {
		c.mu.Lock()
		for _, body := range c.bodies {
			n++
			low := strings.ToLower(body)
			for _, needle := range needles {
				if needle != "" && strings.Contains(low, strings.ToLower(needle)) {
					t.Errorf("personal data %q in an admin response:\n%.400s", needle, body)
				}
			}
		}
		c.mu.Unlock()
	}
	if n == 0 {
		t.Fatalf("only %d responses searched", n)
	}
}

func netipMapped(ip interface{ As4() [4]byte }) string {
	a := ip.As4()
	return fmt.Sprintf("::ffff:%d.%d.%d.%d", a[0], a[1], a[2], a[3])
}

package admin

import (
	"fmt"
	"net/http/httptest"
	"testing"
	"time"

	"roamgate/session"
)

// manySessions is a fake of our Sessions interface holding n live
// sessions over 4 locations and 200 access points, to measure the admin's
// own cost apart from the session index.
type manySessions struct {
	list []session.Session
	st   session.Stats
	byAP map[string]int
}

func newManySessions(n int) *manySessions {
	m := &manySessions{st: session.Stats{ByLocation: map[string]int{}, ByNetwork: map[string]int{}}, byAP: map[string]int{}}
	locs := []string{"brueckerfeld", "bahnhof", "stadtpark", "rathaus"}
	now := time.Now()
	for i := 0; i < n; i++ {
		s := session.Session{ID: fmt.Sprintf("%032x", i), Network: "wifi4eu", Location: locs[i%4], CurrentLocation: locs[(i+1)%4],
			AP: fmt.Sprintf("ap-%03d", i%200), Created: now.Add(-time.Hour), Expires: now.Add(3 * time.Hour), Roams: i % 3}
		m.list = append(m.list, s)
		m.st.Active++
		m.st.ByLocation[s.CurrentLocation]++
		m.st.ByNetwork[s.Network]++
		m.byAP[s.AP]++
	}
	return m
}

func (m *manySessions) Stats() session.Stats      { return m.st }
func (m *manySessions) CountByAP() map[string]int { return m.byAP }
func (m *manySessions) Live() []session.Session   { return m.list }

func benchServer(b *testing.B, n int) (*Server, string) {
	s, err := New(Config{Listen: "127.0.0.1:0", Users: []User{{Name: "bench", PasswordHash: "$2b$10$abcdefghijklmnopqrstuv"}}}, Deps{Sessions: newManySessions(n), TokenKey: testKey,
		Locations: []string{"brueckerfeld", "bahnhof", "stadtpark", "rathaus"}, Networks: []string{"wifi4eu", "stadt"}})
	if err != nil {
		b.Fatal(err)
	}
	tok, _, err := s.tok.issue("bench", Viewer, "bench-login", time.Now(), 0)
	if err != nil {
		b.Fatal(err)
	}
	return s, tok
}

// BenchmarkAdminPages measures one authenticated request, handler and
// rendering included (fiber's in-memory Test, no sockets), with 10 000
// live sessions.
func BenchmarkAdminPages(b *testing.B) {
	for _, path := range []string{"/", "/api/v1/stats", "/api/v1/sessions", "/sessions?location=bahnhof"} {
		b.Run(path, func(b *testing.B) {
			s, tok := benchServer(b, 10000)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				req := httptest.NewRequest("GET", path, nil)
				req.Header.Set("Cookie", sessionCookie+"="+tok)
				resp, err := s.app.Test(req, -1)
				if err != nil || resp.StatusCode != 200 {
					b.Fatalf("%s: %v %v", path, resp.StatusCode, err)
				}
				resp.Body.Close()
			}
		})
	}
}

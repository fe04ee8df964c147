package admin

import (
	"bufio"
	"context"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"
)

// TestEventsStream reads the dashboard's Server-Sent Events: a revocation
// makes a "refresh" event, and Shutdown ends an open stream instead of
// waiting for the browser to leave.
func TestEventsStream(t *testing.T) {
	sc := newScenario(t)
	s, err := New(Config{Listen: "127.0.0.1:0", Users: testUsers(t)}, sc.deps())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	served := make(chan error, 1)
	go func() { served <- s.Serve(context.Background()) }()
	tok, _, err := s.tok.issue("viewer", Viewer, "events-test", time.Now(), 0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest("GET", "http://"+s.Addr().String()+"/events", nil)
	req.AddCookie(&http.Cookie{Name: sessionCookie, Value: tok})
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); resp.StatusCode != 200 || ct != "text/event-stream" {
		t.Fatalf("events: %d %q", resp.StatusCode, ct)
	}
	lines := make(chan string, 16)
	go func() {
		sc := bufio.NewScanner(resp.Body)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
	}()
	waitFor := func(want string) {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case l, ok := <-lines:
				if !ok {
					t.Fatalf("stream ended before %q", want)
				}
				if strings.HasPrefix(l, want) {
					return
				}
			case <-deadline:
				t.Fatalf("no %q within 10 s", want)
			}
		}
	}
	waitFor("retry:")
	if err := sc.mgr.Revoke(context.Background(), sc.ids[2]); err != nil {
		t.Fatal(err)
	}
	waitFor("event: refresh")

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("shutdown with an open stream: %v", err)
	}
	if err := <-served; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve = %v, want ErrServerClosed", err)
	}
	for range lines { // the stream ends
	}
}

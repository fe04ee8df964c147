package session_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"roamgate/internal/testtool"
	"roamgate/session"
	"roamgate/session/sqlite"
)

func crisisFor(d time.Duration, now time.Time) session.Crisis {
	return session.Crisis{Active: true, Until: now.Add(d), By: "ops",
		Message: map[string]string{"de": "Hochwasser: Notunterkunft im Rathaus", "en": "Flood: shelter at the town hall"},
		Links:   []session.CrisisLink{{Title: "NINA", URL: "https://warnung.bund.de/"}}}
}

func TestCrisisValidate(t *testing.T) {
	now := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	ok := crisisFor(time.Hour, now)
	tests := []struct {
		name   string
		change func(*session.Crisis)
		want   string // "" = valid
	}{
		{"valid", func(*session.Crisis) {}, ""},
		{"off is always valid", func(c *session.Crisis) { *c = session.Crisis{} }, ""},
		{"no until", func(c *session.Crisis) { c.Until = time.Time{} }, "until is required"},
		{"until past", func(c *session.Crisis) { c.Until = now.Add(-time.Second) }, "not in the future"},
		{"until too far", func(c *session.Crisis) { c.Until = now.Add(7*24*time.Hour + time.Second) }, "more than 7 days"},
		{"exactly 7 days", func(c *session.Crisis) { c.Until = now.Add(7 * 24 * time.Hour) }, ""},
		{"no message", func(c *session.Crisis) { c.Message = map[string]string{"de": "  "} }, "at least one language"},
		{"bad language", func(c *session.Crisis) { c.Message["<script>"] = "x" }, "not a language tag"},
		{"long message", func(c *session.Crisis) { c.Message["en"] = strings.Repeat("x", 1001) }, "longer than"},
		{"javascript link", func(c *session.Crisis) { c.Links[0].URL = "javascript:alert(1)" }, "not an absolute http(s) URL"},
		{"relative link", func(c *session.Crisis) { c.Links[0].URL = "/shelters" }, "not an absolute http(s) URL"},
		{"untitled link", func(c *session.Crisis) { c.Links[0].Title = "" }, "title"},
		{"too many links", func(c *session.Crisis) {
			for range 8 {
				c.Links = append(c.Links, c.Links[0])
			}
		}, "at most 8 links"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c := ok
			c.Message = map[string]string{"de": ok.Message["de"], "en": ok.Message["en"]}
			c.Links = append([]session.CrisisLink(nil), ok.Links...)
			tc.change(&c)
			err := c.Validate(now)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("Validate: %v", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want) || !errors.Is(err, session.ErrInvalidCrisis)):
				t.Fatalf("Validate = %v, want an ErrInvalidCrisis with %q", err, tc.want)
			}
		})
	}
}

// TestCrisisSessionRejectedAfterCrisisAndTimeout is the safety promise: a
// device admitted during a crisis is on its own again once the crisis is
// over and its short session has run out.
func TestCrisisSessionRejectedAfterCrisisAndTimeout(t *testing.T) {
	p := defaultPolicy()
	p.IdleTimeout = 0 // the device stays active; only the lifetime ends it
	h := newHarness(t, p)
	ctx := context.Background()
	mac := mustMAC(t, "02:00:00:00:c1:51")

	if _, err := h.m.CrisisAdmit(ctx, session.CreateRequest{MAC: mac, HasMAC: true}); !errors.Is(err, session.ErrNoCrisis) {
		t.Fatalf("CrisisAdmit without a crisis: %v, want ErrNoCrisis", err)
	}
	if _, err := h.m.SetCrisis(ctx, crisisFor(6*time.Hour, h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	s, err := h.m.CrisisAdmit(ctx, session.CreateRequest{MAC: mac, HasMAC: true, Location: "rathaus"})
	if err != nil {
		t.Fatalf("CrisisAdmit: %v", err)
	}
	if !s.Crisis {
		t.Error("session admitted in a crisis is not marked Crisis")
	}
	if got := h.m.TimeLeft(s); got != session.DefaultCrisisLifetime {
		t.Errorf("crisis session lives %v, want %v", got, session.DefaultCrisisLifetime)
	}
	st := h.m.Stats()
	if st.Crisis != 1 || st.CrisisByLocation["rathaus"] != 1 || st.Active != 1 {
		t.Errorf("Stats = %+v, want one crisis session at rathaus", st)
	}

	if _, err := h.m.EndCrisis(ctx, "ops"); err != nil {
		t.Fatal(err)
	}
	if _, err := h.m.CrisisAdmit(ctx, session.CreateRequest{MAC: mustMAC(t, "02:00:00:00:c1:52"), HasMAC: true}); !errors.Is(err, session.ErrNoCrisis) {
		t.Fatalf("CrisisAdmit after the crisis: %v, want ErrNoCrisis", err)
	}
	// Until its short timeout the device stays online: ending a crisis
	// does not cut people off mid-call.
	h.clock.Add(session.DefaultCrisisLifetime - time.Second)
	if _, err := h.m.ByMAC(mac); err != nil {
		t.Fatalf("crisis session before its timeout: %v", err)
	}
	h.clock.Add(2 * time.Second)
	if _, err := h.m.ByMAC(mac); !errors.Is(err, session.ErrExpired) {
		t.Fatalf("crisis session after the crisis and its timeout: %v, want ErrExpired", err)
	}
	if st := h.m.Stats(); st.Crisis != 0 {
		t.Errorf("Stats.Crisis = %d after the timeout, want 0", st.Crisis)
	}
}

func TestCrisisEndsAtUntil(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	if _, err := h.m.SetCrisis(ctx, crisisFor(30*time.Minute, h.clock.Now())); err != nil {
		t.Fatal(err)
	}
	if !h.m.CrisisActive() || !h.m.Crisis().Active {
		t.Fatal("crisis not active after SetCrisis")
	}
	h.clock.Add(30 * time.Minute)
	if h.m.CrisisActive() || h.m.Crisis().Active {
		t.Fatal("crisis still active at its until")
	}
	if _, err := h.m.CrisisAdmit(ctx, session.CreateRequest{MAC: mustMAC(t, "02:00:00:00:c1:53"), HasMAC: true}); !errors.Is(err, session.ErrNoCrisis) {
		t.Fatalf("CrisisAdmit after until: %v, want ErrNoCrisis", err)
	}
	// A sign-in at the portal now is an ordinary session again.
	s, _ := h.create(t, "02:00:00:00:c1:54", "", "bahnhof")
	if s.Crisis || h.m.TimeLeft(s) != h.policy.Lifetime {
		t.Errorf("session after the crisis: Crisis=%v, lifetime %v", s.Crisis, h.m.TimeLeft(s))
	}
}

func TestCrisisSurvivesRestart(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	ctx := context.Background()
	set, err := h.m.SetCrisis(ctx, crisisFor(time.Hour, h.clock.Now()))
	if err != nil {
		t.Fatal(err)
	}
	s, err := h.m.CrisisAdmit(ctx, session.CreateRequest{MAC: mustMAC(t, "02:00:00:00:c1:55"), HasMAC: true, Location: "bahnhof"})
	if err != nil {
		t.Fatal(err)
	}
	h.restart(t)
	got := h.m.Crisis()
	if !got.Active || got.By != "ops" || !got.Since.Equal(set.Since) || !got.Until.Equal(set.Until) ||
		got.Message["de"] != set.Message["de"] || len(got.Links) != 1 || got.Links[0] != set.Links[0] {
		t.Fatalf("crisis after restart = %+v, want %+v", got, set)
	}
	back, err := h.m.ByID(s.ID)
	if err != nil || !back.Crisis {
		t.Fatalf("crisis session after restart: %+v, %v", back, err)
	}
}

// TestCrisisWrittenByAnotherProcess: `roamgate crisis on` writes the SQLite
// file while a gateway runs on it; the gateway follows within a second.
func TestCrisisWrittenByAnotherProcess(t *testing.T) {
	h := newHarness(t, defaultPolicy())
	other, err := sqlite.Open(context.Background(), h.dbPath)
	if err != nil {
		t.Fatal(err)
	}
	defer other.Close()
	c := crisisFor(time.Hour, h.clock.Now())
	c.Since = h.clock.Now()
	if err := other.SaveCrisis(context.Background(), c); err != nil {
		t.Fatal(err)
	}
	testtool.Eventually(t, 3*time.Second, "the manager sees the crisis written by another process", h.m.CrisisActive)
}

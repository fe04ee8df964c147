package gateway

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"roamgate/session"
	"roamgate/session/sqlite"
)

func TestCrisisConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		timeout time.Duration
		wantErr bool
	}{
		{"default", DefaultConfig().Crisis.SessionTimeout, false},
		{"one minute", time.Minute, false},
		{"equal to session.lifetime", 24 * time.Hour, false},
		{"zero", 0, true},
		{"under a minute", 30 * time.Second, true},
		{"longer than session.lifetime (capped, not refused)", 25 * time.Hour, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Crisis.SessionTimeout = tc.timeout
			err := cfg.Validate()
			if got := err != nil && strings.Contains(err.Error(), "crisis.session_timeout"); got != tc.wantErr {
				t.Fatalf("Validate = %v, want an error naming crisis.session_timeout: %v", err, tc.wantErr)
			}
		})
	}
}

// TestSwitchCrisisWritesTheStore: the command's path, with no gateway
// running, checks the switch and leaves it in the SQLite file.
func TestSwitchCrisisWritesTheStore(t *testing.T) {
	cfg := DefaultConfig()
	cfg.DataDir = t.TempDir()
	ctx := context.Background()
	if _, err := SwitchCrisis(ctx, cfg, session.Crisis{Active: true, Message: map[string]string{"de": "x"}}); !errors.Is(err, session.ErrInvalidCrisis) {
		t.Fatalf("switch without until: %v, want ErrInvalidCrisis", err)
	}
	until := time.Now().Add(2 * time.Hour)
	got, err := SwitchCrisis(ctx, cfg, session.Crisis{Active: true, Until: until, By: "cli:ops", Message: map[string]string{"de": "Hochwasser"}})
	if err != nil || got.Since.IsZero() {
		t.Fatalf("SwitchCrisis: %+v, %v", got, err)
	}
	st, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "sessions.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	stored, err := st.LoadCrisis(ctx)
	if err != nil || !stored.ActiveAt(time.Now()) || stored.By != "cli:ops" || stored.Message["de"] != "Hochwasser" {
		t.Fatalf("stored crisis: %+v, %v", stored, err)
	}
	// The other languages got the default message (issue 11 item 11).
	if len(stored.Message) != 5 || !strings.HasPrefix(stored.Message["ar"], "تحذير رسمي") {
		t.Errorf("stored messages %v, want German as given and the default in the four other languages", stored.Message)
	}
	// No message at all: the defaults, in every language.
	got, err = SwitchCrisis(ctx, cfg, session.Crisis{Active: true, Until: until, By: "cli:ops"})
	if err != nil || len(got.Message) != 5 || !strings.HasPrefix(got.Message["de"], "Amtliche Warnung") {
		t.Errorf("switch without a message: %+v, %v", got.Message, err)
	}
}

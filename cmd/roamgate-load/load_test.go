package main

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/md5"
	"strings"
	"testing"
	"time"

	layeh "layeh.com/radius"
	"layeh.com/radius/rfc2865"

	"roamgate/radius"
	"roamgate/session"
)

func TestDeviceMAC(t *testing.T) {
	tests := []struct {
		i     int
		known bool
		want  string
	}{
		{0, true, "02-00-00-00-00-00"},
		{258, true, "02-00-00-00-01-02"},
		{1<<24 + 5, false, "06-00-01-00-00-05"},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			if got := deviceMAC(tt.i, tt.known); got != tt.want {
				t.Errorf("deviceMAC(%d, %v) = %q", tt.i, tt.known, got)
			}
			if _, err := session.ParseMAC(tt.want); err != nil {
				t.Error(err)
			}
		})
	}
}

func TestUsersFile(t *testing.T) {
	var b bytes.Buffer
	if err := users([]string{"-sessions", "2"}, &b); err != nil {
		t.Fatal(err)
	}
	want := `"02-00-00-00-00-01" Cleartext-Password := "02-00-00-00-00-01"` + "\n\tSession-Timeout := 86400"
	if !strings.Contains(b.String(), want) || strings.Count(b.String(), "Cleartext-Password") != 2 {
		t.Errorf("users file:\n%s", b.String())
	}
}

// TestEncode: every send is a valid, distinct Access-Request — layeh
// decrypts the password to the MAC and the Message-Authenticator verifies.
func TestEncode(t *testing.T) {
	c := loadConfig{secret: "load-test-secret-123", sessions: 10, unknown: 0.5, pool: 4}
	ts, err := makeTemplates(c)
	if err != nil {
		t.Fatal(err)
	}
	enc := newEncoder([]byte(c.secret))
	var prev []byte
	for i := range 8 {
		var auth [16]byte
		b := bytes.Clone(enc.encode(nil, &ts[i%len(ts)], byte(i), &auth))
		p, err := layeh.Parse(b, []byte(c.secret))
		if err != nil {
			t.Fatal(err)
		}
		pw, err := rfc2865.UserPassword_LookupString(p)
		if err != nil || pw != rfc2865.UserName_GetString(p) || p.Identifier != byte(i) {
			t.Errorf("password %q (%v), user %q, id %d", pw, err, rfc2865.UserName_GetString(p), p.Identifier)
		}
		ma := bytes.Clone(p.Get(80))
		q := bytes.Clone(b)
		copy(q[len(q)-16:], make([]byte, 16)) // the Message-Authenticator is last
		h := hmac.New(md5.New, []byte(c.secret))
		h.Write(q)
		if !hmac.Equal(h.Sum(nil), ma) {
			t.Error("Message-Authenticator does not verify")
		}
		if bytes.Equal(b, prev) {
			t.Error("two sends are identical")
		}
		prev = b
	}
}

// TestRunAgainstRoamgate drives the real server briefly in both modes.
func TestRunAgainstRoamgate(t *testing.T) {
	mgr := newTestManager(t)
	ctx := context.Background()
	if err := createSessions(ctx, mgr, 50); err != nil {
		t.Fatal(err)
	}
	cfg := radius.DefaultConfig()
	cfg.AuthListen, cfg.AcctListen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.Clients = []radius.Client{{Name: "load", CIDR: "127.0.0.0/8", Secret: "load-test-secret-123"}}
	srv, err := radius.New(cfg, radius.Deps{Sessions: mgr})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	sctx, cancel := context.WithCancel(ctx)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(sctx) }()
	defer func() { cancel(); <-served }()

	for _, rate := range []float64{0, 500} {
		res, err := run(loadConfig{addr: srv.AuthAddr().String(), secret: "load-test-secret-123", sessions: 50, unknown: 0.3,
			sockets: 2, window: 4, rate: rate, duration: 500 * time.Millisecond, warmup: 100 * time.Millisecond,
			timeout: time.Second, pool: 200, name: "test"})
		if err != nil {
			t.Fatal(err)
		}
		if res.Accepts == 0 || res.Rejects == 0 || res.Invalid != 0 || res.Timeouts != 0 || res.P50us <= 0 {
			t.Errorf("rate %v: %+v", rate, res)
		}
	}
}

func newTestManager(t *testing.T) *session.Manager {
	t.Helper()
	mgr, closeMgr, err := openManager(context.Background(), t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(closeMgr)
	return mgr
}

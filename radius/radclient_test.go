package radius

import (
	"context"
	"encoding/hex"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"roamgate/internal/testtool"
)

// radclientPath finds FreeRADIUS's radclient. Outside CI a missing tool skips
// the test; in CI (CI=true) it fails it, so the interop tests cannot silently
// stop running.
func radclientPath(t *testing.T) string {
	t.Helper()
	return testtool.Need(t, "radclient", "freeradius-utils")
}

// TestRadclient talks to the server with FreeRADIUS's radclient, which also
// checks our Response Authenticator and Message-Authenticator: a reply that
// fails either is reported as no reply.
func TestRadclient(t *testing.T) {
	radclient := radclientPath(t)
	ts := startServer(t, testConfig(), Deps{Sessions: newFakeSessions(), IdleTimeout: 10 * time.Minute})

	tests := []struct {
		name     string
		kind     string // radclient's packet type
		secret   string
		input    string
		wantOK   bool     // radclient exits 0
		want     []string // regexps the output must match
		wantDrop dropReason
	}{
		{
			name:   "known MAC is accepted",
			kind:   "auth",
			secret: testSecret,
			input: `User-Name = "02-1A-2B-3C-4D-5E"
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Called-Station-Id = "02-AA-BB-CC-DD-EE:WiFi4EU"
NAS-Identifier = "bahnhof-ap1"
Message-Authenticator = 0x00
`,
			wantOK: true,
			want: []string{
				// The Message-Authenticator is the first attribute of the reply.
				`Received Access-Accept Id \d+ from \S+ to \S+ length \d+\n\tMessage-Authenticator = 0x[0-9a-f]{32}\n`,
				`\tSession-Timeout = 91\n`,
				`\tIdle-Timeout = 600\n`,
				`\tAcct-Interim-Interval = 300\n`,
				`\tClass = 0x` + hex.EncodeToString([]byte(liveID)) + `\n`,
			},
		},
		{
			name:   "unknown MAC is rejected",
			kind:   "auth",
			secret: testSecret,
			input: `User-Name = "aa:bb:cc:dd:ee:ff"
Calling-Station-Id = "aa:bb:cc:dd:ee:ff"
Message-Authenticator = 0x00
`,
			want: []string{
				`Received Access-Reject Id \d+ from \S+ to \S+ length \d+\n\tMessage-Authenticator = 0x[0-9a-f]{32}\n`,
				`\tReply-Message = "` + msgNoSession + `"\n`,
			},
		},
		{
			name:   "no Message-Authenticator, no answer",
			kind:   "auth",
			secret: testSecret,
			input: `User-Name = "02-1A-2B-3C-4D-5E"
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
`,
			want:     []string{`No reply from server`},
			wantDrop: dropMissingAuthenticator,
		},
		{
			name:   "wrong secret, no answer",
			kind:   "auth",
			secret: "not-the-secret",
			input: `Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Message-Authenticator = 0x00
`,
			want:     []string{`No reply from server`},
			wantDrop: dropBadAuthenticator,
		},
		{
			name:   "accounting interim-update is answered",
			kind:   "acct",
			secret: testSecret,
			input: `Acct-Status-Type = Interim-Update
Acct-Session-Id = "4711"
Class = 0x` + hex.EncodeToString([]byte(liveID)) + `
Calling-Station-Id = "02-1A-2B-3C-4D-5E"
Acct-Input-Octets = 1234
Proxy-State = 0x0102
`,
			wantOK: true,
			want:   []string{`Received Accounting-Response Id \d+ from \S+ to \S+ length \d+\n\tProxy-State = 0x0102\n`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			addr := ts.AuthAddr()
			if tt.kind == "acct" {
				addr = ts.AcctAddr()
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			cmd := exec.CommandContext(ctx, radclient, "-x", "-r", "1", "-t", "1", addr.String(), tt.kind, tt.secret)
			cmd.Stdin = strings.NewReader(tt.input)
			outb, err := cmd.CombinedOutput()
			out := string(outb)
			if ok := err == nil; ok != tt.wantOK {
				t.Errorf("radclient exit: %v, want success %v", err, tt.wantOK)
			}
			for _, w := range tt.want {
				if !regexp.MustCompile(w).MatchString(out) {
					t.Errorf("radclient output does not match %q", w)
				}
			}
			// Wait for the server's verdict on the packet radclient sent.
			res := ts.nextOutcome(t)
			if res.drop != tt.wantDrop {
				t.Errorf("server outcome %+v, want drop %v", res, tt.wantDrop)
			}
			if t.Failed() {
				t.Logf("radclient output:\n%s", out)
			}
		})
	}
}

package main

import (
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"roamgate/internal/redistest"
)

// TestCrashKeepsAcknowledgedSignIns is issue 7's crash test: under a load of
// concurrent sign-ins the gateway is killed with SIGKILL; after a restart,
// every sign-in that got its 303 is accepted by RADIUS — for the embedded
// SQLite store and for Redis with appendonly/appendfsync always.
func TestCrashKeepsAcknowledgedSignIns(t *testing.T) {
	needTools(t, "radclient")
	bin := buildBinary(t)
	stores := []struct {
		name string
		env  func(t *testing.T) []string
	}{
		{"sqlite", func(t *testing.T) []string { return nil }},
		{"redis", func(t *testing.T) []string {
			needTools(t, "redis-server")
			rds := redistest.Start(t)
			return []string{"ROAMGATE_STORE_DRIVER=redis", "ROAMGATE_STORE_REDIS_ADDR=" + rds.Addr()}
		}},
	}
	for _, st := range stores {
		t.Run(st.name, func(t *testing.T) {
			env := append(st.env(t), "ROAMGATE_DATA_DIR="+t.TempDir())
			gw := startGatewayProc(t, bin, env...)

			// Sign in from 32 browsers until 400 are acknowledged, then
			// kill the gateway while the others are in flight.
			const target = 400
			var next atomic.Int64
			var mu sync.Mutex
			var acked []string
			var wg sync.WaitGroup
			killed := make(chan struct{})
			start := time.Now()
			for w := range 32 {
				// Each browser is its own client address, as phones are.
				from := fmt.Sprintf("127.0.0.%d", 10+w)
				wg.Go(func() {
					for {
						select {
						case <-killed:
							return
						default:
						}
						i := next.Add(1)
						mac := fmt.Sprintf("02:cc:00:%02x:%02x:%02x", byte(i>>16), byte(i>>8), byte(i))
						// Under the kill, errors are expected: they were not acknowledged.
						resp, err := signInFrom(gw.portal, mac, "bahnhof-ap-1", from)
						if err != nil || resp.StatusCode != http.StatusSeeOther {
							continue // refused or cut off by the kill: not acknowledged
						}
						mu.Lock()
						acked = append(acked, mac)
						n := len(acked)
						mu.Unlock()
						if n == target {
							gw.cmd.Process.Kill() // SIGKILL, mid-load
							close(killed)
						}
					}
				})
			}
			select {
			case <-killed:
			case <-time.After(60 * time.Second):
				t.Fatalf("only %d sign-ins acknowledged in 60s", len(acked))
			}
			elapsed := time.Since(start)
			wg.Wait()
			gw.cmd.Wait()
			mu.Lock()
			macs := append([]string(nil), acked...)
			mu.Unlock()
			t.Logf("%d sign-ins acknowledged in %v (%.0f/s) before SIGKILL, %d attempted", len(macs), elapsed.Round(time.Millisecond), float64(target)/elapsed.Seconds(), next.Load())

			gw2 := startGatewayProc(t, bin, env...)
			approved, denied := radclientBatch(t, gw2.radius, macs)
			t.Logf("after restart: %d Access-Accept, %d Access-Reject of %d acknowledged", approved, denied, len(macs))
			if approved != len(macs) {
				t.Fatalf("%d of %d acknowledged sign-ins lost by the crash", len(macs)-approved, len(macs))
			}
		})
	}
}

// radclientBatch sends one MAC-auth Access-Request per MAC with the real
// radclient (64 in parallel) and returns its counts.
func radclientBatch(t *testing.T, addr string, macs []string) (approved, denied int) {
	t.Helper()
	var b strings.Builder
	for _, mac := range macs {
		fmt.Fprintf(&b, "User-Name = %q\nCalling-Station-Id = %q\nNAS-Identifier = \"stadtpark-ap-3\"\nMessage-Authenticator = 0x00\n\n", mac, mac)
	}
	file := filepath.Join(t.TempDir(), "requests")
	if err := os.WriteFile(file, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("radclient", "-q", "-s", "-p", "64", "-r", "3", "-t", "2", "-f", file, addr, "auth", "testing123").CombinedOutput()
	count := func(label string) int {
		m := regexp.MustCompile(label + `\s*:\s*(\d+)`).FindSubmatch(out)
		if m == nil {
			t.Fatalf("radclient summary lacks %q (err %v):\n%s", label, err, out)
		}
		n, _ := strconv.Atoi(string(m[1]))
		return n
	}
	if lost := count("Lost"); lost != 0 {
		t.Errorf("radclient lost %d requests (no answer)", lost)
	}
	return count("Accepted"), count("Rejected")
}

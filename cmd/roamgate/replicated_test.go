package main

import (
	"net/http"
	"testing"
	"time"

	"roamgate/internal/redistest"
)

// TestSignInWaitsForReplica: with a replica configured, a sign-in is
// answered 303 only once the replica has it; with the replica gone the
// same sign-in gets 503 and Retry-After after the bounded wait, and the
// device is not admitted (the unconfirmed session was undone and never
// announced). With the replica back, sign-ins resume.
func TestSignInWaitsForReplica(t *testing.T) {
	needTools(t, "radclient", "redis-server")
	bin := buildBinary(t)
	primary := redistest.Start(t)
	replica := redistest.StartReplicaOf(t, primary)
	gw := startGatewayProc(t, bin, "ROAMGATE_DATA_DIR="+t.TempDir(), "ROAMGATE_STORE_DRIVER=redis",
		"ROAMGATE_STORE_REDIS_ADDR="+primary.Addr(), "ROAMGATE_STORE_REDIS_REPLICA_TIMEOUT=300ms")
	// min_replicas_acked is left at its default: 1, since a replica is
	// connected at start.

	const phone, tablet = "da:a1:19:00:0e:01", "da:a1:19:00:0e:02"
	if resp := signIn(t, gw.portal, phone, "bahnhof-ap-1"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in with the replica: status %d", resp.StatusCode)
	}
	replica.Kill()
	start := time.Now()
	resp := signIn(t, gw.portal, tablet, "bahnhof-ap-1")
	took := time.Since(start)
	if resp.StatusCode != http.StatusServiceUnavailable || resp.Header.Get("Retry-After") == "" {
		t.Fatalf("sign-in without the replica: status %d, Retry-After %q; want 503 with Retry-After", resp.StatusCode, resp.Header.Get("Retry-After"))
	}
	t.Logf("sign-in without the replica refused after %v", took.Round(time.Millisecond))
	if got := macAuth(t, gw.radius, tablet, "bahnhof-ap-1"); got != "reject" {
		t.Errorf("the refused sign-in's device gets %s", got)
	}
	if got := macAuth(t, gw.radius, phone, "bahnhof-ap-1"); got != "accept" {
		t.Errorf("the acknowledged sign-in's device gets %s", got)
	}
	replica.Restart()
	replica.WaitOnline(primary)
	// (One try: each refused one counts against the portal's per-MAC limit.)
	if resp := signIn(t, gw.portal, tablet, "bahnhof-ap-1"); resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("sign-in with the replica back: status %d", resp.StatusCode)
	}
}

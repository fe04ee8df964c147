package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestCheckConfigRedisShapes: `roamgate check-config` accepts each Redis
// shape (one server, Sentinel, Cluster) and names the key of each mistake.
func TestCheckConfigRedisShapes(t *testing.T) {
	bin := buildBinary(t)
	dir := t.TempDir()
	const head = "store:\n  driver: redis\n  redis:\n"
	for _, tc := range []struct {
		name, yaml, want string
		ok               bool
	}{
		{"single", "    addr: 10.1.0.5:6379\n", "ok", true},
		{"sentinel", "    sentinel:\n      master_name: roamgate\n      addresses: [10.1.0.5:26379, 10.2.0.5:26379, 10.3.0.5:26379]\n", "ok", true},
		{"cluster", "    cluster: [10.1.0.5:6379, 10.2.0.5:6379, 10.3.0.5:6379]\n", "ok", true},
		{"single: bad address", "    addr: redis.local\n", `store.redis.addr: "redis.local" is not host:port`, false},
		{"sentinel: no master name", "    sentinel:\n      addresses: [10.1.0.5:26379]\n", "store.redis.sentinel.master_name: missing", false},
		{"sentinel: bad address", "    sentinel:\n      master_name: roamgate\n      addresses: [10.1.0.5:26379, 10.2.0.5]\n", `store.redis.sentinel.addresses[1]: "10.2.0.5" is not host:port`, false},
		{"cluster: bad address", "    cluster: [10.1.0.5:6379, 10.2.0.5]\n", `store.redis.cluster[1]: "10.2.0.5" is not host:port`, false},
		{"cluster: database", "    cluster: [10.1.0.5:6379]\n    db: 1\n", "store.redis.db: 1: a Redis Cluster has database 0 only", false},
		{"two shapes", "    addr: 10.1.0.5:6379\n    sentinel:\n      master_name: roamgate\n      addresses: [10.1.0.5:26379]\n", "store.redis: addr and sentinel exclude each other", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.NewReplacer(" ", "-", ":", "").Replace(tc.name)+".yaml")
			if err := os.WriteFile(path, []byte(head+tc.yaml), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := runCmd(t, bin, "", "check-config", path)
			if (err == nil) != tc.ok || !strings.Contains(out, tc.want) {
				t.Fatalf("check-config: err %v, output %q; want ok=%v and %q", err, out, tc.ok, tc.want)
			}
		})
	}
}

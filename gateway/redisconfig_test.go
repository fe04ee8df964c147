package gateway

import (
	"slices"
	"strings"
	"testing"
	"time"
)

// TestRedisShapes: store.redis takes one server, a Sentinel group or a
// cluster; each is accepted when complete and otherwise refused with the
// key path of what is wrong.
func TestRedisShapes(t *testing.T) {
	const head = "store:\n  driver: redis\n  redis:\n"
	tests := []struct {
		name, yaml string
		want       []string // substrings of the error; none: accepted
	}{
		{"single", "    addr: 10.1.0.5:6379\n", nil},
		{"sentinel", "    sentinel:\n      master_name: roamgate\n      addresses: [10.1.0.5:26379, 10.2.0.5:26379, 10.3.0.5:26379]\n      password: s3cret\n    min_replicas_acked: 1\n    replica_timeout: 500ms\n", nil},
		{"cluster", "    cluster: [10.1.0.5:6379, 10.2.0.5:6379]\n", nil},
		{"none", "    db: 0\n", []string{"store.redis: set one of addr (one server), sentinel (master_name and addresses) or cluster (node addresses)"}},
		{"two shapes", "    addr: 10.1.0.5:6379\n    cluster: [10.2.0.5:6379]\n", []string{"store.redis: addr and cluster exclude each other; set only one"}},
		{"bad addr", "    addr: redis\n", []string{`store.redis.addr: "redis" is not host:port`}},
		{"sentinel without master name", "    sentinel:\n      addresses: [10.1.0.5:26379]\n", []string{"store.redis.sentinel.master_name: missing"}},
		{"sentinel without addresses", "    sentinel:\n      master_name: roamgate\n", []string{"store.redis.sentinel.addresses: at least one Sentinel address is needed"}},
		{"bad sentinel address", "    sentinel:\n      master_name: roamgate\n      addresses: [10.1.0.5:26379, 10.2.0.5]\n", []string{`store.redis.sentinel.addresses[1]: "10.2.0.5" is not host:port`}},
		{"bad cluster address", "    cluster: [10.1.0.5:6379, \"10.2.0.5:\"]\n", []string{`store.redis.cluster[1]: "10.2.0.5:" is not host:port`}},
		{"cluster with a database", "    cluster: [10.1.0.5:6379]\n    db: 3\n", []string{"store.redis.db: 3: a Redis Cluster has database 0 only"}},
		{"cluster not a list", "    cluster: 10.1.0.5:6379\n", []string{"store.redis.cluster (line 4): want a list"}},
		{"bad min_replicas_acked", "    addr: 10.1.0.5:6379\n    min_replicas_acked: -2\n", []string{"store.redis.min_replicas_acked: -2 is not between -1 (automatic) and 16"}},
		{"bad replica_timeout", "    addr: 10.1.0.5:6379\n    replica_timeout: 0s\n", []string{"store.redis.replica_timeout: 0s is not between 10ms and 10s"}},
		{"unknown sentinel key", "    sentinel:\n      master: roamgate\n", []string{"store.redis.sentinel.master (line 5): unknown key"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg, err := Load(writeConfig(t, head+tt.yaml), nil)
			if len(tt.want) == 0 {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil {
				t.Fatalf("accepted: %+v", cfg.Store.Redis)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
}

// TestRedisShapesFromEnv: every shape can be given in the environment (a
// container), lists comma separated.
func TestRedisShapesFromEnv(t *testing.T) {
	cfg, err := Load("", []string{
		"ROAMGATE_STORE_DRIVER=redis",
		"ROAMGATE_STORE_REDIS_SENTINEL_MASTER_NAME=roamgate",
		"ROAMGATE_STORE_REDIS_SENTINEL_ADDRESSES=10.1.0.5:26379,10.2.0.5:26379,10.3.0.5:26379",
		"ROAMGATE_STORE_REDIS_MIN_REPLICAS_ACKED=2",
		"ROAMGATE_STORE_REDIS_REPLICA_TIMEOUT=250ms",
	})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.Store.Redis
	if r.Sentinel.MasterName != "roamgate" || !slices.Equal(r.Sentinel.Addresses, []string{"10.1.0.5:26379", "10.2.0.5:26379", "10.3.0.5:26379"}) ||
		r.MinReplicasAcked != 2 || r.ReplicaTimeout != 250*time.Millisecond {
		t.Errorf("store.redis from the environment = %+v", r)
	}
	cfg, err = Load("", []string{"ROAMGATE_STORE_DRIVER=redis", "ROAMGATE_STORE_REDIS_CLUSTER=10.1.0.5:6379,10.2.0.5:6379"})
	if err != nil || len(cfg.Store.Redis.Cluster) != 2 {
		t.Errorf("cluster from the environment: %+v, %v", cfg.Store.Redis, err)
	}
	if d := DefaultConfig().Store.Redis; d.MinReplicasAcked != -1 || d.ReplicaTimeout != time.Second {
		t.Errorf("defaults: min_replicas_acked %d, replica_timeout %v; want -1 (automatic) and 1s", d.MinReplicasAcked, d.ReplicaTimeout)
	}
}

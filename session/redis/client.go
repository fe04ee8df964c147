package redis

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

// Options configure the store. Exactly one of Addr, Sentinel.MasterName and
// Cluster says where Redis is.
type Options struct {
	// Addr is host:port of a single server.
	Addr string
	// Sentinel finds the primary through Redis Sentinel and follows it
	// when the Sentinels fail it over (go-redis's failover client).
	Sentinel Sentinel
	// Cluster are seed addresses of a Redis Cluster (go-redis's cluster
	// client); the other nodes are discovered.
	Cluster []string
	// Username and Password for AUTH (Redis ACL) on the data servers;
	// optional.
	Username string
	Password string
	// DB is the database number (0 on a cluster).
	DB int
	// TLS enables TLS with this configuration when not nil.
	TLS *tls.Config
	// Prefix starts every key and the channel; default "roamgate:".
	Prefix string
	// Keep is how long a session's key outlives the session's end; default
	// 0: the key expires exactly when the session does.
	Keep time.Duration
	// MinReplicasAcked is how many replicas must confirm (WAIT) a write
	// that is acknowledged to someone — a sign-in, re-bind, revocation or
	// crisis switch — before it returns; when they do not within
	// ReplicaTimeout the write fails with ErrNotReplicated. 0 waits for no
	// replica; AutoReplicas is 1 for Sentinel and Cluster and, for a
	// single server, 1 when it has a replica connected at Open.
	MinReplicasAcked int
	// ReplicaTimeout bounds the wait for replicas; default 1s.
	ReplicaTimeout time.Duration
}

// Sentinel says how to find the primary through Redis Sentinel.
type Sentinel struct {
	// MasterName is the name the Sentinels monitor the primary under.
	MasterName string
	// Addrs are host:port of Sentinels (all of them, or a seed: the
	// client discovers the others).
	Addrs []string
	// Username and Password for the Sentinels themselves, if they
	// require it (sentinel requirepass); the data servers use
	// Options.Username and Options.Password.
	Username string
	Password string
}

// AutoReplicas as Options.MinReplicasAcked waits for one replica wherever
// replicas are expected (see Options.MinReplicasAcked).
const AutoReplicas = -1

// ErrNotReplicated is returned (wrapped) by a write that reached the
// primary but was not confirmed by Options.MinReplicasAcked replicas in
// time: a failover now could lose it, so it must not be acknowledged.
var ErrNotReplicated = errors.New("not confirmed by enough replicas")

// Timeouts of the client: a failed server is noticed within seconds; a
// sign-in waits at most this long for a connection (then answers 503).
const (
	dialTimeout = 2 * time.Second
	ioTimeout   = 2 * time.Second
)

// newClient builds go-redis's own client for the shape Options describe.
func newClient(o Options) (goredis.UniversalClient, error) {
	shapes := 0
	for _, set := range []bool{o.Addr != "", o.Sentinel.MasterName != "" || len(o.Sentinel.Addrs) > 0, len(o.Cluster) > 0} {
		if set {
			shapes++
		}
	}
	switch {
	case shapes == 0:
		return nil, errors.New("no address, Sentinel or Cluster")
	case shapes > 1:
		return nil, errors.New("give one of address, Sentinel or Cluster")
	}
	// A WAIT blocks for up to ReplicaTimeout; the read must outlast it.
	readTimeout := max(ioTimeout, o.ReplicaTimeout+time.Second)
	switch {
	case len(o.Cluster) > 0:
		if o.DB != 0 {
			return nil, errors.New("a cluster has database 0 only")
		}
		return goredis.NewClusterClient(&goredis.ClusterOptions{
			Addrs: o.Cluster, Username: o.Username, Password: o.Password, TLSConfig: o.TLS,
			DialTimeout: dialTimeout, ReadTimeout: readTimeout, WriteTimeout: ioTimeout,
			// No automatic retries, as for one server (see below); MOVED
			// and ASK redirects are followed all the same.
			MaxRetries:      -1,
			MinRetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 2 * time.Second,
		}), nil
	case o.Sentinel.MasterName != "":
		if len(o.Sentinel.Addrs) == 0 {
			return nil, errors.New("sentinel: no addresses")
		}
		return goredis.NewFailoverClient(&goredis.FailoverOptions{
			MasterName: o.Sentinel.MasterName, SentinelAddrs: o.Sentinel.Addrs,
			SentinelUsername: o.Sentinel.Username, SentinelPassword: o.Sentinel.Password,
			Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
			DialTimeout: dialTimeout, ReadTimeout: readTimeout, WriteTimeout: ioTimeout,
			MaxRetries:      -1,
			MinRetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 2 * time.Second,
		}), nil
	case o.Sentinel.MasterName == "" && len(o.Sentinel.Addrs) > 0:
		return nil, errors.New("sentinel: no master name")
	}
	return goredis.NewClient(&goredis.Options{
		Addr: o.Addr, Username: o.Username, Password: o.Password, DB: o.DB, TLSConfig: o.TLS,
		DialTimeout: dialTimeout, ReadTimeout: readTimeout, WriteTimeout: ioTimeout,
		// No automatic retries: a create that reached the server before
		// the connection broke would be replayed and answer "exists". The
		// caller (a sign-in) fails cleanly and the citizen retries; the
		// connection pool itself reconnects with backoff.
		MaxRetries:      -1,
		MinRetryBackoff: 50 * time.Millisecond, MaxRetryBackoff: 2 * time.Second,
	}), nil
}

// Open connects and checks the server answers. The client reconnects with
// backoff by itself when the connection breaks; with Sentinel it asks the
// Sentinels for the primary again, on a cluster it reloads the slot map.
// The returned warnings are settings under which an acknowledged write
// could be lost.
func Open(ctx context.Context, o Options) (*Store, []string, error) {
	if o.Prefix == "" {
		o.Prefix = "roamgate:"
	}
	if o.ReplicaTimeout <= 0 {
		o.ReplicaTimeout = time.Second
	}
	c, err := newClient(o)
	if err != nil {
		return nil, nil, wrap("open", err)
	}
	s := &Store{c: c, prefix: o.Prefix, keep: o.Keep, ackTimeout: o.ReplicaTimeout,
		later: newRetryQueue()}
	if err := s.Ping(ctx); err != nil {
		c.Close()
		return nil, nil, wrap("open", err)
	}
	replicas, err := s.replicas(ctx)
	if err != nil {
		c.Close()
		return nil, nil, wrap("open", err)
	}
	s.minAcked = o.MinReplicasAcked
	if s.minAcked == AutoReplicas {
		s.minAcked = 0
		if len(o.Cluster) > 0 || o.Sentinel.MasterName != "" || replicas > 0 {
			s.minAcked = 1
		}
	}
	warn := s.durabilityWarnings(ctx)
	if s.minAcked > replicas {
		warn = append(warn, fmt.Sprintf("redis: %d replicas must confirm each sign-in but only %d are connected: sign-ins are refused (503) until they are", s.minAcked, replicas))
	}
	return s, warn, nil
}

// MinReplicasAcked is how many replicas confirm each acknowledged write
// (Options.MinReplicasAcked, with AutoReplicas resolved).
func (s *Store) MinReplicasAcked() int { return s.minAcked }

// forEachPrimary calls fn with every primary: the one server, the one the
// Sentinels name, or each primary of the cluster (concurrently).
func (s *Store) forEachPrimary(ctx context.Context, fn func(context.Context, *goredis.Client) error) error {
	switch c := s.c.(type) {
	case *goredis.ClusterClient:
		return c.ForEachMaster(ctx, fn)
	case *goredis.Client:
		return fn(ctx, c)
	}
	return fmt.Errorf("unknown client %T", s.c)
}

// Ping checks that every primary answers (readiness; on a cluster one
// failed shard is enough to be reported).
func (s *Store) Ping(ctx context.Context) error {
	return s.forEachPrimary(ctx, func(ctx context.Context, c *goredis.Client) error {
		return c.Ping(ctx).Err()
	})
}

// replicas is the fewest replicas any primary has connected now.
func (s *Store) replicas(ctx context.Context) (int, error) {
	fewest := -1
	var mu sync.Mutex
	err := s.forEachPrimary(ctx, func(ctx context.Context, c *goredis.Client) error {
		text, err := c.Info(ctx, "replication").Result()
		if err != nil {
			return err
		}
		n := 0
		for _, line := range strings.Split(text, "\r\n") {
			if v, ok := strings.CutPrefix(line, "connected_slaves:"); ok {
				n, _ = strconv.Atoi(v)
			}
		}
		mu.Lock()
		if fewest < 0 || n < fewest {
			fewest = n
		}
		mu.Unlock()
		return nil
	})
	return max(fewest, 0), err
}

// durabilityWarnings reports server settings under which an acknowledged
// sign-in could be lost by a crash. Servers that refuse CONFIG (managed
// services) get no warning.
func (s *Store) durabilityWarnings(ctx context.Context) []string {
	var warn []string
	cfg, err := s.c.ConfigGet(ctx, "append*").Result()
	if err != nil {
		return nil
	}
	if cfg["appendonly"] != "yes" {
		warn = append(warn, "redis: appendonly is not yes: sessions are lost when the server restarts")
	} else if f := cfg["appendfsync"]; f != "always" {
		warn = append(warn, fmt.Sprintf("redis: appendfsync is %q, not always: a crash may lose the last second of sign-ins", f))
	}
	return warn
}

// SetLogger sends go-redis's own messages (a Sentinel's new primary, a
// failed dial) to log at level Info instead of the standard logger.
// go-redis has one logger per process, so this is process-wide.
func SetLogger(log *slog.Logger) { goredis.SetLogger(slogPrintf{log}) }

type slogPrintf struct{ log *slog.Logger }

func (l slogPrintf) Printf(ctx context.Context, format string, v ...any) {
	l.log.InfoContext(ctx, "redis: "+fmt.Sprintf(format, v...))
}

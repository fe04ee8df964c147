package redis

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"sync"
	"time"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/session"
)

// Store is a session.Store on Redis. It is safe for concurrent use.
type Store struct {
	c      goredis.UniversalClient // a *goredis.Client (one server, Sentinel) or *goredis.ClusterClient
	prefix string
	keep   time.Duration
	// minAcked replicas must confirm a write that acknowledges something
	// to a citizen or an admin (see acked.go); 0: no waiting.
	minAcked   int
	ackTimeout time.Duration
	later      retryQueue // undos and announcements that wait for a primary (acked.go)
}

var (
	_ session.Store    = (*Store)(nil)
	_ session.Notifier = (*Store)(nil)
)

// Close closes the client.
func (s *Store) Close() error {
	s.closeRetries()
	return s.c.Close()
}

func (s *Store) key(id string) string { return s.prefix + "{" + id + "}" }

func (s *Store) channel() string { return s.prefix + "changes" }

func wrap(op string, err error) error { return fmt.Errorf("redis: %s: %w", op, err) }

// Field names of the session hash.
const (
	fID, fMACKey, fRandom, fNetwork, fLocation, fCurrent, fAP  = "id", "mk", "rm", "nw", "loc", "cur", "ap"
	fCreated, fExpires, fLastSeen, fIn, fOut, fRoams, fRevoked = "cr", "ex", "ls", "in", "out", "ro", "rv"
	fToken, fNASAddr, fNASID, fAcctID, fDevice                 = "tok", "na", "ni", "as", "dev"
	fCrisis                                                    = "cri"
)

// The scripts make each change atomic and conditional on the key's
// existence, in one round trip, and announce it on the channel.
var (
	createScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 4))
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1`)
	updateScript = goredis.NewScript(`
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 3))
if ARGV[2] ~= '' then redis.call('PUBLISH', ARGV[1], ARGV[2]) end
return 1`)
)

func nanos(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

func fromNanos(s string) time.Time {
	if s == "" {
		return time.Time{}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func flag(b bool) string {
	if b {
		return "1"
	}
	return "0"
}

func addr(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}

// expireAt is when the key goes: the session's end plus Keep.
func (s *Store) expireAt(r session.Record) string {
	return strconv.FormatInt(r.Expires.Add(s.keep).UnixMilli(), 10)
}

// Create stores a new record; session.ErrExists if the ID is taken. It
// returns once the server has applied it (durable as the server's AOF
// settings make it) and, when the store waits for replicas, once they have
// it (acked.go); then only is it announced, so that no gateway admits a
// device whose sign-in a failover could still lose.
func (s *Store) Create(ctx context.Context, r session.Record) error {
	change := "created " + r.ID
	after := s.minAcked > 0 || s.clustered() // published below (see announce)
	inScript := change
	if after {
		inScript = ""
	}
	args := []any{s.expireAt(r), s.channel(), inScript,
		fID, r.ID, fMACKey, string(r.MACKey), fRandom, flag(r.RandomMAC), fNetwork, r.Network,
		fLocation, r.Location, fCurrent, r.CurrentLocation, fAP, r.AP,
		fCreated, nanos(r.Created), fExpires, nanos(r.Expires), fLastSeen, nanos(r.LastSeen),
		fIn, strconv.FormatUint(r.InputOctets, 10), fOut, strconv.FormatUint(r.OutputOctets, 10),
		fRoams, strconv.Itoa(r.Roams), fRevoked, flag(r.Revoked), fToken, string(r.SealedToken),
		fNASAddr, addr(r.NAS.Addr), fNASID, r.NAS.ID, fAcctID, r.NAS.AcctSessionID, fDevice, string(r.SealedDevice),
		fCrisis, flag(r.Crisis),
	}
	key := s.key(r.ID)
	n, err := s.run(ctx, createScript, key, args...)
	if err != nil {
		// Applied or not, confirmed or not: no sign-in was acknowledged.
		s.undoCreate(r.ID)
		return wrap("create", err)
	}
	if n == 0 {
		return wrap("create", session.ErrExists)
	}
	if after {
		s.announce(ctx, change)
	}
	return nil
}

// Get returns the record with the given ID or session.ErrNotFound.
func (s *Store) Get(ctx context.Context, id string) (session.Record, error) {
	m, err := s.c.HGetAll(ctx, s.key(id)).Result()
	if err != nil {
		return session.Record{}, wrap("get", err)
	}
	if len(m) == 0 {
		return session.Record{}, wrap("get", session.ErrNotFound)
	}
	return decode(func(f string) string { return m[f] }), nil
}

// recordFields are the hash's fields in a fixed order, so that a scan can
// fetch them with HMGET into a slice instead of building a map per session
// (a restart reads a million of them).
var recordFields = []string{fID, fMACKey, fRandom, fNetwork, fLocation, fCurrent, fAP,
	fCreated, fExpires, fLastSeen, fIn, fOut, fRoams, fRevoked, fCrisis, fToken, fNASAddr, fNASID, fAcctID, fDevice}

var fieldIndex = func() map[string]int {
	m := make(map[string]int, len(recordFields))
	for i, f := range recordFields {
		m[f] = i
	}
	return m
}()

// decode builds a record from its fields; m returns "" for a missing one.
func decode(m func(field string) string) session.Record {
	var r session.Record
	r.ID = m(fID)
	r.MACKey = session.MACKey(m(fMACKey))
	r.RandomMAC = m(fRandom) == "1"
	r.Network, r.Location, r.CurrentLocation, r.AP = m(fNetwork), m(fLocation), m(fCurrent), m(fAP)
	r.Created, r.Expires, r.LastSeen = fromNanos(m(fCreated)), fromNanos(m(fExpires)), fromNanos(m(fLastSeen))
	r.InputOctets, _ = strconv.ParseUint(m(fIn), 10, 64)
	r.OutputOctets, _ = strconv.ParseUint(m(fOut), 10, 64)
	r.Roams, _ = strconv.Atoi(m(fRoams))
	r.Revoked = m(fRevoked) == "1"
	r.Crisis = m(fCrisis) == "1"
	if t := m(fToken); t != "" {
		r.SealedToken = []byte(t)
	}
	if a := m(fNASAddr); a != "" {
		// An address that does not parse only loses the Disconnect target.
		r.NAS.Addr, _ = netip.ParseAddr(a)
	}
	r.NAS.ID, r.NAS.AcctSessionID = m(fNASID), m(fAcctID)
	if d := m(fDevice); d != "" {
		r.SealedDevice = []byte(d)
	}
	return r
}

func (s *Store) update(ctx context.Context, op, id, change string, fields ...any) error {
	inScript := change
	if s.clustered() {
		inScript = "" // published below (see announce)
	}
	args := append([]any{s.channel(), inScript}, fields...)
	// Touch (activity, written in the background, no change) does not wait
	// for replicas; re-binds and revocations, which someone is told about,
	// do.
	var n int
	var err error
	if change == "" {
		n, err = updateScript.Run(ctx, s.c, []string{s.key(id)}, args...).Int()
	} else {
		n, err = s.run(ctx, updateScript, s.key(id), args...)
	}
	if n == 1 && change != "" && inScript == "" {
		// Applied, even if not yet confirmed: a revocation is better
		// announced early than late.
		s.announce(ctx, change)
	}
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return wrap(op, session.ErrNotFound)
	}
	return nil
}

// Rebind moves a session to a new MAC key and token, and announces it.
func (s *Store) Rebind(ctx context.Context, id string, key session.MACKey, random bool, sealedToken []byte) error {
	return s.update(ctx, "rebind", id, "rebound "+id, fMACKey, string(key), fRandom, flag(random), fToken, string(sealedToken))
}

// Touch records activity (see session.Store). It is not announced: other
// gateways learn presence from their own access points.
func (s *Store) Touch(ctx context.Context, id string, a session.Activity, roams int, sealedDevice []byte) error {
	fields := []any{fCurrent, a.Location, fAP, a.AP, fLastSeen, nanos(a.At), fRoams, strconv.Itoa(roams),
		fNASAddr, addr(a.NAS.Addr), fNASID, a.NAS.ID, fAcctID, a.NAS.AcctSessionID}
	if a.InputOctets != 0 {
		fields = append(fields, fIn, strconv.FormatUint(a.InputOctets, 10))
	}
	if a.OutputOctets != 0 {
		fields = append(fields, fOut, strconv.FormatUint(a.OutputOctets, 10))
	}
	if sealedDevice != nil {
		fields = append(fields, fDevice, string(sealedDevice))
	}
	return s.update(ctx, "touch", id, "", fields...)
}

// Revoke marks a session revoked, forgets its token and announces it.
func (s *Store) Revoke(ctx context.Context, id string) error {
	return s.update(ctx, "revoke", id, "revoked "+id, fRevoked, "1", fToken, "")
}

// scan calls fn for every session hash, one call at a time. The keys come
// from SCAN (of every primary, see scanKeys); batches of them are fetched
// (pipelined HMGET, from the primary that listed them) and decoded by a few
// workers at once, so that the round trips to Redis overlap with the
// decoding — a restart reads a million sessions this way.
func (s *Store) scan(ctx context.Context, fn func(key string, r session.Record) error) error {
	const batch, fetchers = 1000, 4
	type keyBatch struct {
		keys []string
		node *goredis.Client
	}
	batches := make(chan keyBatch, fetchers)
	var (
		mu       sync.Mutex // serialises fn and guards firstErr
		firstErr error
		wg       sync.WaitGroup
	)
	fail := func(err error) {
		mu.Lock()
		if firstErr == nil {
			firstErr = err
		}
		mu.Unlock()
	}
	for range fetchers {
		wg.Go(func() {
			for kb := range batches {
				keys := kb.keys
				cmds := make([]*goredis.SliceCmd, len(keys))
				var err error
				// A batch that times out on a busy server is asked again
				// rather than failing a gateway's start (seen with a
				// million sessions on a loaded machine).
				for range 3 {
					_, err = kb.node.Pipelined(ctx, func(p goredis.Pipeliner) error {
						for i, k := range keys {
							cmds[i] = p.HMGet(ctx, k, recordFields...)
						}
						return nil
					})
					if err == nil || ctx.Err() != nil {
						break
					}
				}
				if err != nil {
					fail(err)
					continue
				}
				for i, c := range cmds {
					vals := c.Val()
					if len(vals) != len(recordFields) || vals[0] == nil {
						continue // expired between SCAN and HMGET
					}
					r := decode(func(f string) string {
						v, _ := vals[fieldIndex[f]].(string)
						return v
					})
					mu.Lock()
					if firstErr == nil {
						if err := fn(keys[i], r); err != nil {
							firstErr = err
						}
					}
					mu.Unlock()
				}
			}
		})
	}
	stopped := func() bool {
		mu.Lock()
		defer mu.Unlock()
		return firstErr != nil
	}
	err := s.scanKeys(ctx, s.prefix+"{*}", batch, func(keys []string, node *goredis.Client) bool {
		sessions := keys[:0]
		for _, k := range keys {
			if strings.HasSuffix(k, "}") {
				sessions = append(sessions, k)
			}
		}
		batches <- keyBatch{sessions, node}
		return !stopped()
	})
	close(batches)
	wg.Wait()
	if err != nil && firstErr == nil {
		firstErr = err
	}
	return firstErr
}

// errStop ends a scan early without being an error of the store.
type errStop struct{ err error }

func (e errStop) Error() string { return e.err.Error() }

// Live calls fn for every session that is not revoked and expires after now.
func (s *Store) Live(ctx context.Context, now time.Time, fn func(session.Record) error) error {
	err := s.scan(ctx, func(_ string, r session.Record) error {
		if r.Revoked || !r.Expires.After(now) {
			return nil
		}
		if err := fn(r); err != nil {
			return errStop{err}
		}
		return nil
	})
	var stop errStop
	if errors.As(err, &stop) {
		return stop.err
	}
	if err != nil {
		return wrap("live", err)
	}
	return nil
}

// DeleteEnded removes the sessions that expired before the given time or
// were revoked. Keys also expire on their own; this catches revoked ones
// and those kept by Options.Keep.
func (s *Store) DeleteEnded(ctx context.Context, before time.Time) (int, error) {
	var ended []string
	err := s.scan(ctx, func(key string, r session.Record) error {
		if r.Revoked || r.Expires.Before(before) {
			ended = append(ended, key)
		}
		return nil
	})
	if err != nil {
		return 0, wrap("delete ended", err)
	}
	n := 0
	for _, k := range ended {
		// One key per DEL keeps it cluster-safe.
		d, err := s.c.Del(ctx, k).Result()
		if err != nil {
			return n, wrap("delete ended", err)
		}
		n += int(d)
	}
	return n, nil
}

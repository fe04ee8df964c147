package gateway

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"roamgate/admin"
	"roamgate/portal"
	"roamgate/portal/vendor"
	"roamgate/radius"
	"roamgate/session"
	"roamgate/session/sqlite"
)

// newRegistry is the one Prometheus registry every server registers on and
// the admin listener serves at /metrics.
func newRegistry(mgr *session.Manager, store session.Store) *prometheus.Registry {
	reg := prometheus.NewRegistry()
	stats := &sharedStats{stats: mgr.Stats, fresh: time.Second}
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "roamgate_sessions_active", Help: "Live sessions in this gateway's index.",
		}, func() float64 { return float64(stats.get().Active) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_activity_writes_total", Help: "Activity (accounting, accepted associations) written to the store.",
		}, func() float64 { return float64(mgr.Counters().ActivityWritten) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_activity_write_failures_total", Help: "Activity writes the store refused; they are retried.",
		}, func() float64 { return float64(mgr.Counters().ActivityFailed) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "roamgate_session_activity_pending", Help: "Sessions whose activity waits for the store (non-zero while it is away).",
		}, func() float64 { return float64(mgr.Counters().ActivityPending) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_feed_resyncs_total", Help: "Re-reads of the shared store after its change feed was interrupted.",
		}, func() float64 { return float64(mgr.Counters().FeedResyncs) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "roamgate_session_store_up", Help: "1 while the session store works, 0 while it fails.",
		}, func() float64 {
			if mgr.Counters().StoreUp {
				return 1
			}
			return 0
		}),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_fail_static_total", Help: "Live sessions found in memory while the store was down (devices kept online fail-static).",
		}, func() float64 { return float64(mgr.Counters().FailStatic) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_accounting_buffered_total", Help: "Accounting records answered from the bounded buffer while the store was away.",
		}, func() float64 { return float64(mgr.Counters().ActivityBuffered) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_accounting_dropped_total", Help: "Accounting records left unanswered because the store was away and the buffer full.",
		}, func() float64 { return float64(mgr.Counters().ActivityDropped) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_stale_reports_total", Help: "Reports of an association the device had left (an access point still reporting it): they moved nothing.",
		}, func() float64 { return float64(mgr.Counters().StaleActivity) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_displaced_total", Help: "Live sessions whose MAC another sign-in (without their token) or a re-bind took over.",
		}, func() float64 { return float64(mgr.Counters().Displaced) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "roamgate_session_journal_files", Help: "Files of the move journal holding moves the store has not been given yet (SQLite; 1-2 normally).",
		}, func() float64 { return float64(mgr.Counters().JournalFiles) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_journal_checkpoints_total", Help: "Checkpoints of the move journal into the store.",
		}, func() float64 { return float64(mgr.Counters().Checkpoints) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_journal_checkpoint_failures_total", Help: "Checkpoints of the move journal that failed (the files are kept; the next checkpoint writes them).",
		}, func() float64 { return float64(mgr.Counters().CheckpointFailures) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_journal_checkpointed_sessions_total", Help: "Sessions written to the store by checkpoints of the move journal (each moved session once per checkpoint).",
		}, func() float64 { return float64(mgr.Counters().CheckpointedSessions) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "roamgate_session_journal_damaged_total", Help: "Move journal files that could not be read or ended in bytes that were not a record (replayed up to them).",
		}, func() float64 { return float64(mgr.Counters().JournalDamaged) }),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "roamgate_session_crisis_active", Help: "1 while crisis mode is active (every device admitted, no terms), else 0.",
		}, func() float64 {
			if mgr.CrisisActive() {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "roamgate_session_crisis_sessions", Help: "Live sessions created while crisis mode was active.",
		}, func() float64 { return float64(stats.get().Crisis) }),
	)
	if log, ok := store.(activityLog); ok {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "roamgate_session_store_activity_unfolded", Help: "Touches in the SQLite store's activity log that no fold into the sessions rows has applied yet.",
			}, func() float64 { n, _ := log.ActivityLog(); return float64(n) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "roamgate_session_store_fold_failures_total", Help: "Folds of the SQLite store's activity log that failed (the log keeps the activity; the next fold retries).",
			}, func() float64 { _, n := log.ActivityLog(); return float64(n) }),
		)
	}
	if st, ok := store.(syncing); ok {
		reg.MustRegister(
			prometheus.NewGaugeFunc(prometheus.GaugeOpts{
				Name: "roamgate_session_store_syncer_running", Help: "1 while the SQLite store's syncer process (its fsyncs and WAL checkpoints) answers, else 0: the store then does that work itself.",
			}, func() float64 {
				if st.Syncer().Running {
					return 1
				}
				return 0
			}),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "roamgate_session_store_syncs_in_process_total", Help: "Syncs and checkpoints the SQLite store did in roamgate's own process because its syncer process was gone.",
			}, func() float64 { return float64(st.Syncer().InProcess) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "roamgate_session_store_checkpoint_failures_total", Help: "WAL checkpoints of the SQLite store that failed (the WAL keeps the frames; the next checkpoint retries).",
			}, func() float64 { return float64(st.Syncer().FailedCheckpoints) }),
			prometheus.NewCounterFunc(prometheus.CounterOpts{
				Name: "roamgate_session_store_checkpoints_urgent_total", Help: "Rounds of WAL checkpoints the SQLite store's syncer ran at its normal priority, not its idle one, because the round before waited over 10 s for an idle CPU.",
			}, func() float64 { return float64(st.Syncer().UrgentCheckpoints) }),
		)
	}
	return reg
}

// checkpointsBy is the store's CheckpointAlso if it has one (SQLite, with
// its syncer process): the history's WAL is checkpointed there too.
func checkpointsBy(store session.Store) func(path string) error {
	if s, ok := store.(interface{ CheckpointAlso(path string) error }); ok {
		return s.CheckpointAlso
	}
	return nil
}

// syncing is a store with a syncer process (session/sqlite).
type syncing interface {
	Syncer() sqlite.SyncerStats
}

// sharedStats lets the gauges of one scrape share one Manager.Stats: each
// is a range over every session in the index (at a million sessions about
// a tenth of a second of CPU, on the core that answers RADIUS), and a
// scrape asked for it once per gauge. A count at most fresh old is good
// enough for a gauge; the dashboard still asks the Manager itself.
type sharedStats struct {
	stats func() session.Stats
	fresh time.Duration

	mu sync.Mutex // held while counting, so that concurrent gauges wait for one count
	at time.Time
	st session.Stats
}

func (s *sharedStats) get() session.Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.at.IsZero() || time.Since(s.at) >= s.fresh {
		s.st, s.at = s.stats(), time.Now()
	}
	return s.st
}

// activityLog is a store that appends activity and folds it later
// (session/sqlite).
type activityLog interface {
	ActivityLog() (unfolded int64, foldFailures uint64)
}

// bandwidths are the networks' limits in the form RADIUS sends them.
func bandwidths(c Config) map[string]radius.Bandwidth {
	m := make(map[string]radius.Bandwidth, len(c.Networks))
	for _, n := range c.Networks {
		if n.BandwidthUp > 0 || n.BandwidthDown > 0 || n.Role != "" {
			m[n.ID] = radius.Bandwidth{UpKbps: uint32(n.BandwidthUp), DownKbps: uint32(n.BandwidthDown), Role: n.Role} // validated: 0..maxKbps
		}
	}
	return m
}

// clientNetwork is a RADIUS client's network (config validation has
// checked that it parses: a CIDR or a single address).
func clientNetwork(cidr string) (netip.Prefix, bool) {
	if p, err := netip.ParsePrefix(cidr); err == nil {
		return p.Masked(), true
	}
	if a, err := netip.ParseAddr(cidr); err == nil {
		a = a.Unmap()
		return netip.PrefixFrom(a, a.BitLen()), true
	}
	return netip.Prefix{}, false
}

// apNetworks are the RADIUS clients' networks: where access points are, so
// the only places a vendor login URL may point at.
func apNetworks(c Config) []netip.Prefix {
	var out []netip.Prefix
	for _, cl := range c.RADIUS.Clients {
		if p, ok := clientNetwork(cl.CIDR); ok {
			out = append(out, p)
		}
	}
	return out
}

// accessPoints are the RADIUS clients as the portal sees them: where a
// vendor redirect's login URL points, with the client's UAM secret,
// signature requirement and location (issue 12 §2b).
func accessPoints(c Config) []vendor.AccessPoint {
	var out []vendor.AccessPoint
	for _, cl := range c.RADIUS.Clients {
		p, ok := clientNetwork(cl.CIDR)
		if !ok {
			continue
		}
		name := cl.Name
		if name == "" {
			name = cl.CIDR
		}
		out = append(out, vendor.AccessPoint{
			Name: name, Network: p, Vendor: cl.Vendor, Location: cl.Location,
			UAMSecret: cl.UAMSecret, RequireSignature: cl.RequireSignature,
		})
	}
	return out
}

// vendorFor names the vendor of the RADIUS client an access point address
// belongs to (longest prefix), for the portal's adapter choice.
func vendorFor(c Config) func(netip.Addr) string {
	type entry struct {
		p      netip.Prefix
		vendor string
	}
	var entries []entry
	for _, cl := range c.RADIUS.Clients {
		if p, ok := clientNetwork(cl.CIDR); ok {
			entries = append(entries, entry{p, cl.Vendor})
		}
	}
	return func(a netip.Addr) string {
		a = a.Unmap()
		best, vendor := -1, ""
		for _, e := range entries {
			if e.p.Contains(a) && e.p.Bits() > best {
				best, vendor = e.p.Bits(), e.vendor
			}
		}
		return vendor
	}
}

// places are the locations with coordinates, for the admin's map.
func places(c Config) []admin.Place {
	var out []admin.Place
	for _, l := range c.Locations {
		if l.Lat != nil && l.Lon != nil {
			out = append(out, admin.Place{ID: l.ID, Name: l.Name, Lat: *l.Lat, Lon: *l.Lon})
		}
	}
	return out
}

// revoker ends a session for the admin listener and reports what the NAS
// said to the Disconnect-Request.
type revoker struct {
	mgr *session.Manager
	rad *radius.Server
}

// A session this gateway already holds revoked is revoked again, not
// refused: the revocation is written to the store once more and the
// Disconnect-Request sent. An operator retries a revocation whose answer
// was an error — during a store's failover the write may have been applied
// and its change announced to this gateway, yet not be on the primary that
// took over — and must be able to make sure of it; the session ends (its
// event, its count) once all the same (session.Manager.Revoke).
func (r revoker) Revoke(ctx context.Context, id string) (admin.RevokeResult, error) {
	s, err := r.mgr.ByID(id)
	if err != nil && !errors.Is(err, session.ErrRevoked) {
		return admin.RevokeResult{}, err
	}
	if err := r.mgr.Revoke(ctx, id); err != nil {
		return admin.RevokeResult{}, err
	}
	res, err := r.rad.Disconnect(ctx, s)
	switch {
	case errors.Is(err, radius.ErrNoNAS), errors.Is(err, radius.ErrUnknownNAS):
		return admin.RevokeResult{Disconnect: admin.DisconnectNotSent, Detail: err.Error()}, nil
	case err != nil:
		return admin.RevokeResult{Disconnect: admin.DisconnectTimeout, Detail: err.Error()}, nil
	}
	out := admin.RevokeResult{Disconnect: admin.Disconnect(res.Outcome.String())}
	if res.ErrorCause != 0 {
		out.Detail = fmt.Sprintf("Error-Cause %d", res.ErrorCause)
	}
	return out, nil
}

// reauthorizer asks the access point to re-authorise a device that just
// signed in (MAC-auth family), by CoA, at the NAS the device arrived
// through when no NAS has reported it yet. An access point that takes no
// CoA (hostapd, Meraki) is not an error: the device gets in at its next
// association, and radius counts it (reauthorizations_total{unsupported}).
type reauthorizer struct{ rad *radius.Server }

func (r reauthorizer) Reauthorize(ctx context.Context, s session.Session, at portal.NASHint) error {
	res, err := r.rad.Reauthorize(ctx, s, radius.NASHint{ID: at.ID, AP: at.AP, HasAP: at.HasAP, Addr: at.Addr})
	if errors.Is(err, radius.ErrNoCoA) {
		return nil
	}
	if err != nil {
		return err
	}
	if res.Outcome != radius.CoAACK {
		return fmt.Errorf("radius: CoA %s (Error-Cause %d)", res.Outcome, res.ErrorCause)
	}
	return nil
}

// portalSessions is the session manager as the portal uses it, except that
// a citizen's own sign-out (Revoke from /status) also disconnects the
// device at its access point, through radius.Server.SessionEnded — the
// path ended sessions take. The Manager.OnEnd hook skips revocations
// (whoever revokes sends the Disconnect: the admin reports the NAS's
// answer; another gateway's revocation arrives through the store's feed and
// is that gateway's to send), so without this the access point would keep
// the device online.
type portalSessions struct {
	*session.Manager
	rad *radius.Server
}

func (p portalSessions) Revoke(ctx context.Context, id string) error {
	s, lookupErr := p.Manager.ByID(id)
	if err := p.Manager.Revoke(ctx, id); err != nil {
		return err
	}
	if lookupErr == nil {
		p.rad.SessionEnded(s, session.EndRevoked)
	}
	return nil
}

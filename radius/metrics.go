package radius

import (
	"github.com/prometheus/client_golang/prometheus"
)

// The server's counters live in atomics on the request path (Stats); the
// collector turns them into Prometheus metrics when scraped, so counting
// costs the hot path nothing beyond an atomic add. Only the latency
// histogram is a prometheus type, whose Observe is itself lock-free.

var (
	descRequests = prometheus.NewDesc("roamgate_radius_requests_total",
		"RADIUS requests received from known clients, by client and code.", []string{"client", "code"}, nil)
	descAccepts = prometheus.NewDesc("roamgate_radius_accepts_total",
		"Access-Accepts sent, by reason (mac, uam_pap, uam_chap).", []string{"reason"}, nil)
	descRejects = prometheus.NewDesc("roamgate_radius_rejects_total",
		"Access-Rejects sent, by reason.", []string{"reason"}, nil)
	descDrops = prometheus.NewDesc("roamgate_radius_drops_total",
		"Datagrams that got no answer, by reason.", []string{"reason"}, nil)
	descReceived = prometheus.NewDesc("roamgate_radius_received_total",
		"Datagrams read on both sockets.", nil, nil)
	descDuplicates = prometheus.NewDesc("roamgate_radius_duplicates_total",
		"Retransmissions (RFC 5080): resent answers the cached reply, in_flight drops one whose original is still being handled.",
		[]string{"kind"}, nil)
	descAccounting = prometheus.NewDesc("roamgate_radius_accounting_responses_total",
		"Accounting-Responses sent after the record was stored (or, while the store is away, buffered for it).", nil, nil)
	descAccountingRequests = prometheus.NewDesc("roamgate_radius_accounting_requests_total",
		"Authentic Accounting-Requests, by Acct-Status-Type (start, interim_update, stop, accounting_on, accounting_off, other).",
		[]string{"status"}, nil)
	descStatus = prometheus.NewDesc("roamgate_radius_status_server_total",
		"Status-Server requests answered (RFC 5997).", nil, nil)
	descSendErrors = prometheus.NewDesc("roamgate_radius_send_errors_total",
		"Replies the socket refused to send.", nil, nil)
	descDisconnects = prometheus.NewDesc("roamgate_radius_disconnects_total",
		"Disconnect-Requests sent for ended sessions, by result (ack, nak, timeout, error, skipped: no NAS known, overload).",
		[]string{"result"}, nil)
	descReauths = prometheus.NewDesc("roamgate_radius_reauthorizations_total",
		"CoA-Requests asking a NAS to let a just-signed-in device in, by result (ack, nak, timeout, error; unsupported: the NAS takes no CoA — hostapd, Meraki — and the device gets in at its next association; no_nas: no NAS known for the device).",
		[]string{"result"}, nil)
)

func newLatencyHistogram(l listener) prometheus.Histogram {
	return prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:        "roamgate_radius_request_duration_seconds",
		Help:        "Time from reading a request to sending its reply, by port.",
		ConstLabels: prometheus.Labels{"port": l.String()},
		// 25 µs … ~0.4 s: the hot path is tens of microseconds, accounting
		// with its durable write milliseconds.
		Buckets: prometheus.ExponentialBuckets(25e-6, 2, 15),
	})
}

// collector exposes a Server's metrics.
type collector struct{ s *Server }

func (c collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descRequests, descAccepts, descRejects, descDrops, descReceived,
		descDuplicates, descAccounting, descAccountingRequests, descStatus, descSendErrors, descDisconnects, descReauths, descReadBatch} {
		ch <- d
	}
	for _, h := range c.s.latency {
		h.Describe(ch)
	}
}

func (c collector) Collect(ch chan<- prometheus.Metric) {
	s := c.s
	counter := func(d *prometheus.Desc, v uint64, labels ...string) {
		ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(v), labels...)
	}
	for _, cl := range s.clients.clients {
		for i := range cl.requests {
			counter(descRequests, cl.requests[i].Load(), cl.name, codeIdxNames[i])
		}
	}
	for v := range numVerdicts {
		d := descRejects
		if v.accept() {
			d = descAccepts
		}
		counter(d, s.stats.verdicts[v].Load(), verdictNames[v])
	}
	for r := dropNone + 1; r < numDropReasons; r++ {
		counter(descDrops, s.stats.dropped[r].Load(), r.String())
	}
	counter(descReceived, s.stats.received.Load())
	counter(descDuplicates, s.stats.resent.Load(), "resent")
	counter(descDuplicates, s.stats.dropped[dropInFlight].Load(), "in_flight")
	counter(descAccounting, s.stats.accountingResponses.Load())
	for st := range numAcctStatus {
		counter(descAccountingRequests, s.stats.accounting[st].Load(), acctStatusNames[st])
	}
	counter(descStatus, s.stats.statusServer.Load())
	counter(descSendErrors, s.stats.sendErrors.Load())
	for o := range numCoAResults {
		counter(descDisconnects, s.stats.disconnects[o].Load(), o.String())
	}
	counter(descDisconnects, s.stats.disconnectErrors.Load(), "error")
	counter(descDisconnects, s.stats.disconnectSkipped.Load(), "skipped")
	counter(descDisconnects, s.stats.disconnectOverload.Load(), "overload")
	for o := range numCoAResults {
		counter(descReauths, s.stats.reauths[o].Load(), o.String())
	}
	counter(descReauths, s.stats.reauthErrors.Load(), "error")
	counter(descReauths, s.stats.reauthUnsupported.Load(), "unsupported")
	counter(descReauths, s.stats.reauthNoNAS.Load(), "no_nas")
	for _, h := range s.latency {
		h.Collect(ch)
	}
	c.collectBatches(ch)
}

package admin

import "github.com/prometheus/client_golang/prometheus"

type metrics struct {
	logins  *prometheus.CounterVec
	revokes *prometheus.CounterVec
	refused *prometheus.CounterVec
}

func newMetrics(reg prometheus.Registerer) metrics {
	m := metrics{
		logins: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roamgate_admin_logins_total",
			Help: "Admin sign-in attempts by result (ok, bad_credentials, rate_limited, bad_request).",
		}, []string{"result"}),
		revokes: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roamgate_admin_revocations_total",
			Help: "Sessions revoked by admins, by Disconnect outcome (ack, nak, timeout, not_sent, error).",
		}, []string{"result"}),
		refused: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "roamgate_admin_requests_refused_total",
			Help: "Admin requests refused, by reason (unauthenticated, csrf, forbidden, bad_input).",
		}, []string{"reason"}),
	}
	for _, r := range []string{"ok", "bad_credentials", "rate_limited", "bad_request"} {
		m.logins.WithLabelValues(r)
	}
	for _, r := range []string{"ack", "nak", "timeout", "not_sent", "error"} {
		m.revokes.WithLabelValues(r)
	}
	for _, r := range []string{"unauthenticated", "csrf", "forbidden", "bad_input"} {
		m.refused.WithLabelValues(r)
	}
	if reg != nil {
		reg.MustRegister(m.logins, m.revokes, m.refused)
	}
	return m
}

package dns

import (
	mdns "github.com/miekg/dns"
	"github.com/prometheus/client_golang/prometheus"
)

// Result is what the captive plugin did with a query: the "result" label of
// roamgate_dns_queries_total.
type Result int

// The results, in label order.
const (
	// ResultSession: the client has a live session; passed on to forward.
	ResultSession Result = iota
	// ResultWalledGarden: a walled-garden name; passed on to forward.
	ResultWalledGarden
	// ResultCaptive: answered with the portal address.
	ResultCaptive
	// ResultNoData: answered NOERROR without records (AAAA without a portal
	// IPv6, HTTPS, SVCB, NS, SOA).
	ResultNoData
	// ResultCanary: a DoH or Private Relay canary answered NXDOMAIN.
	ResultCanary
	// ResultRefused: a type that could tunnel data before sign-in (for
	// walled-garden names too: only A, AAAA, CNAME, HTTPS and SVCB pass), a
	// class other than IN, or a signed-in client with no upstream
	// configured.
	ResultRefused
	// ResultFormErr: a malformed query.
	ResultFormErr
	// ResultCrisis: crisis mode is active; passed on to forward for
	// everyone (see crisis.go).
	ResultCrisis
	// ResultRateLimited: the client sent more than its rate; dropped
	// without an answer.
	ResultRateLimited
	// ResultTooLarge: a walled-garden answer for a client without a
	// session was larger than the cap; replaced by REFUSED.
	ResultTooLarge
	numResults
)

var resultNames = [numResults]string{"session", "walled_garden", "captive", "nodata", "canary", "refused", "formerr", "crisis", "ratelimited", "too_large"}

// String is the label value.
func (r Result) String() string {
	if r < 0 || r >= numResults {
		return "unknown"
	}
	return resultNames[r]
}

// qtypeLabels are the query types counted by name; all others count as
// "other", so a client cannot grow the label set.
var qtypeLabels = []uint16{
	mdns.TypeA, mdns.TypeAAAA, mdns.TypeHTTPS, mdns.TypeSVCB, mdns.TypeCNAME, mdns.TypeMX,
	mdns.TypeNS, mdns.TypeSOA, mdns.TypePTR, mdns.TypeSRV, mdns.TypeTXT, mdns.TypeNULL,
	mdns.TypeANY, mdns.TypeCAA, mdns.TypeDS, mdns.TypeDNSKEY,
}

// otherQtype is the label index of every type not in qtypeLabels.
var otherQtype = len(qtypeLabels)

// qtypeIndex maps a query type to its label index; the table is built once
// so the hot path does an array read, not a map lookup.
var qtypeIndex = func() (idx [256]uint8) {
	for i := range idx {
		idx[i] = uint8(otherQtype)
	}
	for i, t := range qtypeLabels {
		if t < 256 {
			idx[t] = uint8(i)
		}
	}
	return idx
}()

func labelIndex(qtype uint16) int {
	switch {
	case qtype < 256:
		return int(qtypeIndex[qtype])
	case qtype == mdns.TypeCAA:
		for i, t := range qtypeLabels {
			if t == qtype {
				return i
			}
		}
	}
	return otherQtype
}

// Metrics counts what the captive plugin does. Counters are always on; the
// counters for every label pair are resolved up front so that counting a
// query is one atomic add.
type Metrics struct {
	queries  *prometheus.CounterVec
	counters [numResults][]prometheus.Counter
}

// NewMetrics creates the counters and registers them on reg; a nil reg
// counts without exporting.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{queries: prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "roamgate_dns_queries_total",
		Help: "DNS queries seen by the captive plugin, by result (session, walled_garden, captive, nodata, canary, refused, formerr, crisis, ratelimited, too_large) and query type.",
	}, []string{"result", "qtype"})}
	for r := range numResults {
		m.counters[r] = make([]prometheus.Counter, otherQtype+1)
		for i := range m.counters[r] {
			qt := "other"
			if i < otherQtype {
				qt = mdns.TypeToString[qtypeLabels[i]]
			}
			m.counters[r][i] = m.queries.WithLabelValues(r.String(), qt)
		}
	}
	if reg != nil {
		if err := reg.Register(m.queries); err != nil {
			return nil, err
		}
	}
	return m, nil
}

func (m *Metrics) count(r Result, qtype uint16) {
	if m == nil {
		return
	}
	m.counters[r][labelIndex(qtype)].Inc()
}

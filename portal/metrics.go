package portal

import (
	"fmt"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
)

// Stats are the portal's counters since New; the same numbers are exported
// as roamgate_portal_… metrics.
type Stats struct {
	// Signins counts sessions handed out by POST /connect.
	Signins uint64
	// Rebinds counts returning devices moved to a new MAC (POST /continue).
	Rebinds uint64
	// CSRFFailures counts form posts refused for a missing, forged or
	// cross-site CSRF token.
	CSRFFailures uint64
	// InvalidParams counts arrival parameters that were present but refused:
	// malformed or multicast MACs, overlong or control-character text,
	// unsafe continue URLs, login URLs outside the access-point networks.
	InvalidParams uint64
	// TermsRefused counts POST /connect without the terms accepted.
	TermsRefused uint64
	// StoreErrors counts sign-ins the session store failed (answered 503).
	StoreErrors uint64
	// RateLimited counts sign-ins refused by the per-client or per-MAC limit.
	RateLimited uint64
	// VendorErrors counts authorisation steps that failed (no usable login
	// parameters, a controller that refused).
	VendorErrors uint64
	// ControllerErrors counts authorisations a controller (UniFi
	// authorize-guest, Omada extPortal/auth) refused or failed; the citizen
	// got the retry page. Also counted in VendorErrors.
	ControllerErrors uint64
	// APRefusals counts arrivals in which the access point reported that it
	// refused the portal's login (Cisco statusCode 3-5).
	APRefusals uint64
	// ReauthorizeErrors counts MAC-auth re-authorisations that failed.
	ReauthorizeErrors uint64
	// ProbesCaptive and ProbesOnline count OS probes answered with the
	// portal and with the OS's success answer.
	ProbesCaptive, ProbesOnline uint64
	// Revokes counts sign-outs from the status page.
	Revokes uint64
	// SignatureMissing and SignatureInvalid count arrivals refused because
	// their access point requires a signature (CoovaChilli/uspot md=,
	// openNDS encryption) and they had none, or one that did not verify.
	SignatureMissing, SignatureInvalid uint64
	// ContinueRefused counts signed-in browsers an access point reported
	// as let through whose continue URL was not followed (unsigned, and not
	// the URL the portal had handed out): open-redirect attempts, or an
	// access point without a UAM secret answering another gateway.
	ContinueRefused uint64
	// BadFraming counts requests refused because their headers delimit the
	// body in more than one way (conflicting Content-Length values, or
	// Content-Length with Transfer-Encoding).
	BadFraming uint64
	// FormsEvicted counts pending sign-in forms (CSRF tokens) dropped
	// because their client address opened more than its share.
	FormsEvicted uint64
	// ConnsRefused counts connections refused because their client address
	// had too many open.
	ConnsRefused uint64
}

type counters struct {
	signins, rebinds, csrfFailures, invalidParams, termsRefused, storeErrors,
	rateLimited, vendorErrors, controllerErrors, apRefusals, reauthErrors, probesCaptive, probesOnline, revokes atomic.Uint64
	signatureMissing, signatureInvalid, continueRefused atomic.Uint64
	badFraming, formsEvicted, connsRefused              atomic.Uint64
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	c := &s.stats
	return Stats{
		Signins: c.signins.Load(), Rebinds: c.rebinds.Load(), CSRFFailures: c.csrfFailures.Load(),
		InvalidParams: c.invalidParams.Load(), TermsRefused: c.termsRefused.Load(),
		StoreErrors: c.storeErrors.Load(), RateLimited: c.rateLimited.Load(),
		VendorErrors: c.vendorErrors.Load(), ControllerErrors: c.controllerErrors.Load(),
		APRefusals: c.apRefusals.Load(), ReauthorizeErrors: c.reauthErrors.Load(),
		ProbesCaptive: c.probesCaptive.Load(), ProbesOnline: c.probesOnline.Load(), Revokes: c.revokes.Load(),
		SignatureMissing: c.signatureMissing.Load(), SignatureInvalid: c.signatureInvalid.Load(),
		ContinueRefused: c.continueRefused.Load(),
		BadFraming:      c.badFraming.Load(), FormsEvicted: c.formsEvicted.Load(), ConnsRefused: c.connsRefused.Load(),
	}
}

// register exports the counters to reg (nil: nothing).
func (c *counters) register(reg prometheus.Registerer) error {
	if reg == nil {
		return nil
	}
	metric := func(name, help string, v *atomic.Uint64, labels prometheus.Labels) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{
			Namespace: "roamgate", Subsystem: "portal", Name: name, Help: help, ConstLabels: labels,
		}, func() float64 { return float64(v.Load()) })
	}
	for _, m := range []prometheus.Collector{
		metric("signins_total", "Sessions handed out by POST /connect.", &c.signins, nil),
		metric("rebinds_total", "Returning devices re-bound to a new MAC.", &c.rebinds, nil),
		metric("csrf_failures_total", "Form posts refused for a missing or forged CSRF token.", &c.csrfFailures, nil),
		metric("invalid_params_total", "Arrival parameters present but refused.", &c.invalidParams, nil),
		metric("terms_refused_total", "Sign-ins without the terms accepted.", &c.termsRefused, nil),
		metric("store_errors_total", "Sign-ins the session store failed.", &c.storeErrors, nil),
		metric("rate_limited_total", "Sign-ins refused by the per-client or per-MAC limit.", &c.rateLimited, nil),
		metric("vendor_errors_total", "Access-point authorisation steps that failed.", &c.vendorErrors, nil),
		metric("controller_errors_total", "Controller authorisations (UniFi, Omada) that failed; the citizen saw the retry page.", &c.controllerErrors, nil),
		metric("ap_refusals_total", "Arrivals reporting that the access point refused the portal's login (Cisco statusCode 3-5).", &c.apRefusals, nil),
		metric("reauthorize_errors_total", "MAC-auth re-authorisations (CoA) that failed.", &c.reauthErrors, nil),
		metric("probes_total", "OS captive-portal probes answered.", &c.probesCaptive, prometheus.Labels{"state": "captive"}),
		metric("probes_total", "OS captive-portal probes answered.", &c.probesOnline, prometheus.Labels{"state": "online"}),
		metric("revokes_total", "Sign-outs from the status page.", &c.revokes, nil),
		metric("signature_failures_total", "Arrivals refused: their access point requires a signed redirect.", &c.signatureMissing, prometheus.Labels{"reason": "missing"}),
		metric("signature_failures_total", "Arrivals refused: their access point requires a signed redirect.", &c.signatureInvalid, prometheus.Labels{"reason": "invalid"}),
		metric("continue_refused_total", "Access-point returns whose continue URL was not followed (unsigned, not handed out here).", &c.continueRefused, nil),
		metric("bad_framing_total", "Requests refused for conflicting Content-Length (or Content-Length with Transfer-Encoding).", &c.badFraming, nil),
		metric("forms_evicted_total", "Pending sign-in forms dropped because their client address opened more than its share.", &c.formsEvicted, nil),
		metric("connections_refused_total", "Connections refused because their client address had too many open.", &c.connsRefused, nil),
	} {
		if err := reg.Register(m); err != nil {
			return fmt.Errorf("portal: metrics: %w", err)
		}
	}
	return nil
}

// registerCSRFStore exports the size of the built-in CSRF token store.
func registerCSRFStore(reg prometheus.Registerer, b *boundedStore) error {
	if reg == nil {
		return nil
	}
	for _, m := range []prometheus.Collector{
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Namespace: "roamgate", Subsystem: "portal", Name: "csrf_tokens",
			Help: "CSRF tokens kept in memory (one per browser that opened a form, for two hours)."},
			func() float64 { return float64(b.len()) }),
		prometheus.NewCounterFunc(prometheus.CounterOpts{Namespace: "roamgate", Subsystem: "portal", Name: "csrf_evictions_total",
			Help: "Live CSRF tokens dropped because the store was full (a flood of splash requests)."},
			func() float64 { return float64(b.evicted.Load()) }),
	} {
		if err := reg.Register(m); err != nil {
			return fmt.Errorf("portal: metrics: %w", err)
		}
	}
	return nil
}

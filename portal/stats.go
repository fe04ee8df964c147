package portal

import "sync/atomic"

// Stats are the portal's counters since New, for the metrics endpoint.
type Stats struct {
	// Signins counts sessions handed out by POST /connect.
	Signins uint64
	// CSRFFailures counts POST /connect refused for a missing, forged or
	// cross-site CSRF token.
	CSRFFailures uint64
	// InvalidParams counts arrival parameters that were present but refused:
	// malformed or multicast MACs, overlong or control-character text,
	// unsafe continue URLs.
	InvalidParams uint64
	// TermsRefused counts POST /connect without the terms accepted.
	TermsRefused uint64
	// StoreErrors counts sign-ins the session store failed (answered 503).
	StoreErrors uint64
}

type counters struct {
	signins, csrfFailures, invalidParams, termsRefused, storeErrors atomic.Uint64
}

// Stats returns the current counters.
func (s *Server) Stats() Stats {
	return Stats{
		Signins:       s.stats.signins.Load(),
		CSRFFailures:  s.stats.csrfFailures.Load(),
		InvalidParams: s.stats.invalidParams.Load(),
		TermsRefused:  s.stats.termsRefused.Load(),
		StoreErrors:   s.stats.storeErrors.Load(),
	}
}

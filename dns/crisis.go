package dns

// CrisisSource is implemented by a Sessions that knows crisis mode (the
// *session.Manager does). While a crisis is active the captive plugin
// passes every query on, for everyone: people must reach the warning apps
// and shelters' pages without signing in first.
type CrisisSource interface {
	// CrisisActive must do no I/O: it is asked on every query.
	CrisisActive() bool
}

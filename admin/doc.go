// Package admin is the IT team's listener: a dashboard of who is online
// where (by location, network and access point, and over the last day and
// month), the list of live sessions with revocation, a JSON API with CSV
// export, Prometheus /metrics, and /healthz and /readyz.
//
// Admins sign in with a form (CSRF-protected; failures slow down the
// client address, for that user name and overall, with a growing delay —
// never the user name everywhere, so no one can lock the IT team out) and
// get an HttpOnly, SameSite=Strict cookie carrying a short-lived admin JWT
// that renews while they work; signing out refuses every token of that
// admin, on every gateway of the store, across restarts. API clients get a
// bearer token from POST /api/v1/token (or read with HTTP Basic). Viewers
// read; operators may also revoke. The listener is bound to loopback by
// default and refuses any other address without TLS or an explicit
// insecure_listen.
//
// It shows counts and session IDs, never a MAC address, IP address or token.
// Its templates and styles are embedded from web/, apart from the portal's
// pages; its texts come from assets (assets/i18n/admin) in the portal's
// languages, chosen as the portal chooses (?lang=, then Accept-Language),
// Arabic right to left.
package admin

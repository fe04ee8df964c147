// Package portal is the citizen-facing web server of a roamgate site: the
// answers to the operating systems' captive-portal probes, the splash page an
// access point (or captive DNS) sends a new device to, the sign-in (POST
// /connect) that creates a session, hands the device its token as a cookie
// and runs the access point's authorisation step (package portal/vendor), the
// one-tap "welcome back" for a device whose MAC changed, the status page with
// its sign-out, the RFC 8908 captive portal API and the public key set that
// verifies tokens.
//
// It treats everything a request carries as hostile: arrival parameters are
// validated and length-limited before they are shown or used, login URLs
// must point at configured access points, forms are protected by fiber's
// CSRF middleware, sign-ins are rate-limited per client and per MAC, and
// proxy headers are believed only from configured proxies. Sessions
// themselves live in package session; the portal only asks a Sessions
// implementation for them. It is not the admin interface, and it never
// talks to RADIUS or DNS: those meet it in session and in gateway (which
// wires a Reauthorizer for MAC-auth access points).
package portal

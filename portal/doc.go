// Package portal is the citizen-facing web server of a roamgate site: the
// splash page an access point sends a new device to, the sign-in (POST
// /connect) that creates a session and hands the device its token as a
// cookie, the status page, and the public key set that verifies tokens.
//
// It treats everything a request carries as hostile: arrival parameters are
// validated and length-limited before they are shown or used, forms are
// protected by a CSRF token bound to a cookie, and proxy headers are believed
// only from configured proxies. Sessions themselves live in package session;
// the portal only asks a Sessions implementation for them. It is not the
// admin interface, and it never talks to RADIUS or DNS: those meet it in
// session and in gateway.
package portal

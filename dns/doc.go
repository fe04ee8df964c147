// Package dns is roamgate's captive DNS: CoreDNS embedded as a library, with
// the captive plugin of this package in front of cache and forward.
//
// A client address with a live session (session.Manager.ByIP) and the
// walled-garden names are resolved by the upstream resolvers; every other
// client is pointed at the portal. The package does not decide who has a
// session and does not serve the portal: it only reads the session index.
//
// Server binds its UDP and TCP sockets itself in Listen and serves CoreDNS
// on them from Serve (core.go): caddy sets CoreDNS up from the Corefile, but
// neither binds nor serves.
package dns

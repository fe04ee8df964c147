// Package admin is the IT team's listener: health and readiness probes and
// the statistics API (live sessions per location and network), behind the
// admin users of the config. It is bound to loopback by default; expose it
// only behind a reverse proxy with TLS.
//
// It shows counts, never a MAC address, IP address or token.
package admin

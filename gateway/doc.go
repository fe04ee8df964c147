// Package gateway composes roamgate: the typed configuration (whose defaults
// are the demo site), the locations and networks of the site, the wiring and
// lifecycle of every server (portal, RADIUS, DNS, admin) around one session
// manager and store, and the functions behind cmd/roamgate's subcommands.
//
// It holds no protocol logic of its own; that lives in the packages it wires.
package gateway

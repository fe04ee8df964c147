// Package gateway composes roamgate: the typed configuration (whose defaults
// are the demo site), the locations and networks of the site, and the wiring
// and lifecycle of every server (portal, RADIUS, admin) around one session
// manager and store.
//
// It holds no protocol logic of its own; that lives in the packages it wires.
package gateway

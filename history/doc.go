// Package history keeps the statistics of the past: sign-ins, roams, ends
// and distinct devices per hour and per day, per network, location and
// access point, in its own SQLite file (<data_dir>/history.db). It is fed
// with session.Manager.OnEvent and read by the admin dashboard and its CSV
// export.
//
// Raw events are kept for Config.Raw (retention.raw, default 7 days), hourly
// aggregates for Config.Aggregates (400 days). No MAC address, IP address or
// token is stored; distinct devices are counted with a short hash of the
// session's MAC key in a table that is purged with the raw events.
package history

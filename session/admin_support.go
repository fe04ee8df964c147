package session

import "sort"

// Live returns a copy of every live session (neither revoked, expired nor
// idle), newest first: the admin listener's session list and its counts per
// access point. It does no I/O; it walks the in-memory index with the same
// liveness test as Stats.
func (m *Manager) Live() []Session {
	now := m.now()
	var out []Session
	m.index.each(func(e *entry) {
		if e.s.Revoked || !now.Before(e.exp) || m.idle(&e.s, now) {
			return
		}
		out = append(out, e.s)
	})
	sort.Slice(out, func(i, j int) bool {
		if !out[i].Created.Equal(out[j].Created) {
			return out[i].Created.After(out[j].Created)
		}
		return out[i].ID < out[j].ID
	})
	return out
}

// CountByAP counts the live sessions by the access point that reported
// them last ("" when none has). It is Stats for the admin's per-AP table,
// without copying the sessions as Live does.
func (m *Manager) CountByAP() map[string]int {
	now := m.now()
	out := map[string]int{}
	m.index.each(func(e *entry) {
		if e.s.Revoked || !now.Before(e.exp) || m.idle(&e.s, now) {
			return
		}
		out[e.s.AP]++
	})
	return out
}

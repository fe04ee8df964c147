package session

import (
	"fmt"
	"testing"
	"time"
)

// TestIndexLoadPicksLastSeen loads sessions sharing a MAC key in every order:
// the MAC always goes to the same one, and every session stays reachable by ID.
func TestIndexLoadPicksLastSeen(t *testing.T) {
	t0 := time.Date(2025, 6, 1, 8, 0, 0, 0, time.UTC)
	mk := func(id string, created, seen time.Duration) *entry {
		s := Session{ID: id, MACKey: "k", Created: t0.Add(created), LastSeen: t0.Add(seen)}
		return &entry{s: s, exp: t0.Add(time.Hour)}
	}
	tests := []struct {
		name    string
		entries []*entry
		want    string
	}{
		{"seen last wins", []*entry{mk("a", 0, 50*time.Minute), mk("b", 40*time.Minute, 41*time.Minute)}, "a"},
		{"same last seen: created last wins", []*entry{mk("a", 0, time.Minute), mk("b", 30*time.Second, time.Minute)}, "b"},
		{"full tie: larger ID wins", []*entry{mk("a", 0, time.Minute), mk("b", 0, time.Minute)}, "b"},
		{"three", []*entry{mk("a", 0, 3*time.Minute), mk("b", time.Minute, time.Minute), mk("c", 2*time.Minute, 2*time.Minute)}, "a"},
	}
	for _, tt := range tests {
		for _, order := range permutations(len(tt.entries)) {
			t.Run(fmt.Sprintf("%s/%v", tt.name, order), func(t *testing.T) {
				var x index
				for _, i := range order {
					x.load(tt.entries[i])
				}
				if got := x.byMAC("k"); got == nil || got.s.ID != tt.want {
					t.Errorf("byMAC = %v, want %s", got, tt.want)
				}
				for _, e := range tt.entries {
					if x.byID(e.s.ID) != e {
						t.Errorf("byID(%s) lost", e.s.ID)
					}
				}
				if got := x.count.Load(); got != int64(len(tt.entries)) {
					t.Errorf("count = %d, want %d", got, len(tt.entries))
				}
				// Dropping a loser keeps the winner's MAC.
				x.drop(func(e *entry) bool { return e.s.ID != tt.want })
				if got := x.byMAC("k"); got == nil || got.s.ID != tt.want {
					t.Errorf("after dropping the others, byMAC = %v, want %s", got, tt.want)
				}
			})
		}
	}
}

func permutations(n int) [][]int {
	if n == 1 {
		return [][]int{{0}}
	}
	var out [][]int
	for _, p := range permutations(n - 1) {
		for i := 0; i <= len(p); i++ {
			q := append(append(append([]int{}, p[:i]...), n-1), p[i:]...)
			out = append(out, q)
		}
	}
	return out
}

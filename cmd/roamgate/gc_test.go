package main

import (
	"runtime/debug"
	"runtime/metrics"
	"testing"
)

// gogc reads the GC percentage without changing it.
func gogc() int64 {
	s := []metrics.Sample{{Name: "/gc/gogc:percent"}}
	metrics.Read(s)
	return int64(s[0].Value.Uint64())
}

// TestWhileLoading: serve starts the gateway with the GC at loadGCPercent
// and restores the setting afterwards; an operator's GOGC is left alone.
func TestWhileLoading(t *testing.T) {
	defer debug.SetGCPercent(debug.SetGCPercent(100))
	for _, tt := range []struct {
		env  string
		want int64
	}{
		{"", loadGCPercent},
		{"50", 100}, // the process's setting: GOGC took effect at start-up
	} {
		var during int64
		got, err := whileLoading(tt.env, func() (string, error) { during = gogc(); return "started", nil })
		if got != "started" || err != nil {
			t.Fatalf("GOGC=%q: whileLoading returned %q, %v", tt.env, got, err)
		}
		if during != tt.want {
			t.Errorf("GOGC=%q: GC at %d%% during the start, want %d%%", tt.env, during, tt.want)
		}
		if after := gogc(); after != 100 {
			t.Errorf("GOGC=%q: GC at %d%% after the start, want the setting before (100%%)", tt.env, after)
		}
	}
}

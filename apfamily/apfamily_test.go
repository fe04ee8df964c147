package apfamily_test

import (
	"slices"
	"testing"

	"roamgate/apfamily"
)

func TestLookup(t *testing.T) {
	tests := []struct {
		name         string
		family, impl string
		ok           bool
	}{
		{"", apfamily.Generic, apfamily.Generic, true},
		{"coova", apfamily.Coova, apfamily.Coova, true},
		{"CoovaChilli", apfamily.Coova, apfamily.Coova, true},
		{"chilli", apfamily.Coova, apfamily.Coova, true},
		{"chillispot", apfamily.Coova, apfamily.Coova, true},
		{"uspot", apfamily.Coova, apfamily.USpot, true},
		{"hostapd", apfamily.MACAuth, apfamily.Hostapd, true},
		{"openwrt", apfamily.MACAuth, apfamily.Hostapd, true},
		{"mac-auth", apfamily.MACAuth, apfamily.MACAuth, true},
		{"omada", apfamily.Omada, apfamily.Omada, true},
		{"tp-link", apfamily.Omada, apfamily.Omada, true},
		{"aruba-instant-on", apfamily.Aruba, apfamily.Aruba, true},
		{"wispr", apfamily.Generic, apfamily.WISPr, true},
		{"ubiquiti", apfamily.UniFi, apfamily.UniFi, true},
		{"cisco-wlc", apfamily.Cisco, apfamily.Cisco, true},
		{"aruba-instant", apfamily.Aruba, apfamily.Aruba, true},
		{"meraki", apfamily.Meraki, apfamily.Meraki, true},
		{"ruckus", "", "", false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			k, ok := apfamily.Lookup(tc.name)
			if ok != tc.ok || k.Family != tc.family || k.Impl != tc.impl {
				t.Errorf("Lookup(%q) = %+v, %v; want {%s %s}, %v", tc.name, k, ok, tc.family, tc.impl, tc.ok)
			}
		})
	}
}

// Every name All lists resolves, and to a family Names lists.
func TestAllResolve(t *testing.T) {
	for _, n := range apfamily.All() {
		k, ok := apfamily.Lookup(n)
		if !ok || !slices.Contains(apfamily.Names(), k.Family) {
			t.Errorf("Lookup(%q) = %+v, %v", n, k, ok)
		}
	}
	if apfamily.Family("ruckus") != apfamily.Generic {
		t.Error("an unknown name is not the generic family")
	}
}

package main

import (
	"fmt"
	"math/rand/v2"
	"sync/atomic"
)

// The town the load and serve agree on: -locations places with -aps access
// points each. Access point k (0 ≤ k < locations·aps) is at location k/aps,
// names itself "locLLL-apAA" (NAS-Identifier) and has the MAC 02-AA-00-xx-xx-xx
// (Called-Station-Id "02-AA-00-xx-xx-xx:WiFi4EU"). Every field has a fixed
// length, so that the load can write them into a request in place. Known
// device i signed in at access point home(i), where the load starts it too.
const (
	maxLocations = 999
	maxAPs       = 99
	benchSSID    = "WiFi4EU"
	nasIDLen     = len("loc000-ap00")
	calledLen    = len("02-AA-00-00-00-00:" + benchSSID)
	macLen       = len("02-00-00-00-00-00")
)

// town is the layout of locations and access points.
type town struct{ locations, aps int }

func (t town) valid() error {
	if t.locations < 1 || t.locations > maxLocations || t.aps < 1 || t.aps > maxAPs {
		return fmt.Errorf("-locations must be 1…%d and -aps 1…%d", maxLocations, maxAPs)
	}
	return nil
}

func (t town) numAPs() int { return t.locations * t.aps }

// home is the access point known device i signed in at.
func (t town) home(i int) int { return i % t.numAPs() }

// locationID is the ID of location l in serve's configuration.
func locationID(l int) string { return fmt.Sprintf("loc%03d", l) }

// nasID is the NAS-Identifier of access point k; locationID(k/aps) + "-*"
// matches it.
func (t town) nasID(k int) string {
	return fmt.Sprintf("%s-ap%02d", locationID(k/t.aps), k%t.aps)
}

// apMAC is the MAC of access point k, as RFC 3580 writes it.
func apMAC(k int) string {
	return fmt.Sprintf("02-AA-00-%02X-%02X-%02X", byte(k>>16), byte(k>>8), byte(k))
}

// fleet chooses the device and access point of each request: a known device
// with probability 1-unknown, which with probability roam has walked to an
// access point of another location since it was last asked for (the session
// moves), and otherwise asks again from where it is. It is shared by the
// sockets; ap is updated atomically.
type fleet struct {
	town
	sessions int
	unknown  float64
	roam     float64
	ap       []atomic.Uint32 // where known device i is now
	sweep    atomic.Int64    // next device of a sweep
}

func newFleet(t town, sessions int, unknown, roam float64) *fleet {
	f := &fleet{town: t, sessions: sessions, unknown: unknown, roam: roam, ap: make([]atomic.Uint32, sessions)}
	for i := range f.ap {
		f.ap[i].Store(uint32(t.home(i)))
	}
	return f
}

// pick chooses the next request: device index, whether it is known, and the
// access point it asks from.
func (f *fleet) pick(rng *rand.Rand) (dev int, known bool, ap int) {
	if rng.Float64() < f.unknown {
		return rng.IntN(1 << 24), false, rng.IntN(f.numAPs())
	}
	dev = rng.IntN(f.sessions)
	ap = int(f.ap[dev].Load())
	if f.roam > 0 && rng.Float64() < f.roam {
		ap = f.elsewhere(rng, ap)
		f.ap[dev].Store(uint32(ap))
	}
	return dev, true, ap
}

// elsewhere is a random access point of another location than ap's (of the
// same location when there is only one).
func (f *fleet) elsewhere(rng *rand.Rand, ap int) int {
	if f.locations == 1 {
		if f.aps == 1 {
			return ap
		}
		return (ap + 1 + rng.IntN(f.aps-1)) % f.aps
	}
	l := (ap/f.aps + 1 + rng.IntN(f.locations-1)) % f.locations
	return l*f.aps + rng.IntN(f.aps)
}

// next is the sweep's next device, each known device once from where it
// is; ok is false when all have been asked for.
func (f *fleet) next() (dev int, ap int, ok bool) {
	i := f.sweep.Add(1) - 1
	if i >= int64(f.sessions) {
		return 0, 0, false
	}
	return int(i), int(f.ap[i].Load()), true
}

// swept reports whether the sweep has asked for every device.
func (f *fleet) swept() bool { return f.sweep.Load() >= int64(f.sessions) }

// putDeviceMAC writes deviceMAC(i, known) into b[:macLen] without
// allocating.
func putDeviceMAC(b []byte, i int, known bool) {
	const hexdigits = "0123456789ABCDEF"
	first := byte(0x06)
	if known {
		first = 0x02
	}
	for j, x := range [6]byte{first, 0, byte(i >> 24), byte(i >> 16), byte(i >> 8), byte(i)} {
		b[3*j], b[3*j+1] = hexdigits[x>>4], hexdigits[x&0x0f]
		if j < 5 {
			b[3*j+2] = '-'
		}
	}
}

// apNames are the NAS-Identifier and Called-Station-Id of every access
// point, formatted once.
type apNames struct {
	nas    [][nasIDLen]byte
	called [][calledLen]byte
}

func newAPNames(t town) apNames {
	n := apNames{nas: make([][nasIDLen]byte, t.numAPs()), called: make([][calledLen]byte, t.numAPs())}
	for k := range t.numAPs() {
		copy(n.nas[k][:], t.nasID(k))
		copy(n.called[k][:], apMAC(k)+":"+benchSSID)
	}
	return n
}

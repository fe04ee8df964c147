package portal

import (
	"fmt"
	"testing"
	"time"
)

func TestBoundedStore(t *testing.T) {
	now := time.Date(2026, 11, 27, 8, 0, 0, 0, time.UTC)
	clock := func() time.Time { return now }
	b := newBoundedStore(3, clock)

	t.Run("get, set, delete", func(t *testing.T) {
		if v, err := b.Get("nope"); v != nil || err != nil {
			t.Fatalf("Get of a missing key = %q, %v", v, err)
		}
		b.Set("a", []byte("1"), time.Hour)
		val := []byte("2")
		b.Set("b", val, 0)
		val[0] = 'x' // the store keeps its own copy
		if v, _ := b.Get("b"); string(v) != "2" {
			t.Fatalf("Get(b) = %q", v)
		}
		b.Delete("b")
		if v, _ := b.Get("b"); v != nil {
			t.Fatalf("Get after Delete = %q", v)
		}
		b.Set("", []byte("ignored"), 0)
		b.Set("empty", nil, 0)
		if b.len() != 1 {
			t.Fatalf("len = %d, want 1 (empty key and value are ignored)", b.len())
		}
	})

	t.Run("expiry", func(t *testing.T) {
		now = now.Add(2 * time.Hour)
		if v, _ := b.Get("a"); v != nil {
			t.Fatalf("expired a = %q", v)
		}
	})

	t.Run("bounded: the oldest goes first, a flood cannot grow it", func(t *testing.T) {
		b.Reset()
		for i := range 1000 {
			b.Set(fmt.Sprint(i), []byte("v"), time.Hour)
		}
		if b.len() != 3 {
			t.Fatalf("len = %d after 1000 sets, want the bound 3", b.len())
		}
		for _, k := range []string{"997", "998", "999"} {
			if v, _ := b.Get(k); v == nil {
				t.Errorf("newest %s evicted", k)
			}
		}
		if v, _ := b.Get("0"); v != nil {
			t.Error("oldest kept")
		}
		if b.evicted.Load() != 997 {
			t.Errorf("evicted = %d, want 997", b.evicted.Load())
		}
	})

	t.Run("expired entries make room without counting as evictions", func(t *testing.T) {
		b.Reset()
		b.evicted.Store(0)
		for i := range 3 {
			b.Set(fmt.Sprint("old", i), []byte("v"), time.Minute)
		}
		now = now.Add(time.Hour)
		for i := range 3 {
			b.Set(fmt.Sprint("new", i), []byte("v"), time.Minute)
		}
		if b.len() != 3 || b.evicted.Load() != 0 {
			t.Fatalf("len %d, evicted %d; want 3 and 0", b.len(), b.evicted.Load())
		}
	})
}

func TestBoundedStoreClaim(t *testing.T) {
	now := time.Date(2026, 12, 4, 8, 0, 0, 0, time.UTC)
	b := newBoundedStore(100, func() time.Time { return now })
	set := func(key string) { b.Set(key, []byte("+"), time.Hour) }

	set("victim")
	if n := b.ClaimForm("victim", "10.0.0.3", 2, 0); n != 0 {
		t.Fatalf("claim dropped %d", n)
	}
	dropped := 0
	for i := range 10 {
		k := fmt.Sprint("flood", i)
		set(k)
		dropped += b.ClaimForm(k, "10.0.0.2", 2, 0)
	}
	if dropped != 8 || b.len() != 3 {
		t.Fatalf("dropped %d, len %d; want 8 and 3 (the flooder's 2 newest and the victim's)", dropped, b.len())
	}
	for _, k := range []string{"victim", "flood8", "flood9"} {
		if v, _ := b.Get(k); v == nil {
			t.Errorf("%s is gone", k)
		}
	}
	if n := b.ClaimForm("victim", "10.0.0.2", 2, 0); n != 0 || b.len() != 3 {
		t.Error("a second claimant took over or dropped a token")
	}
	if n := b.ClaimForm("missing", "10.0.0.2", 2, 0); n != 0 {
		t.Error("claiming a missing key dropped something")
	}
	// Expiry and deletion forget the owners too: nothing stays behind.
	b.Delete("victim")
	now = now.Add(2 * time.Hour)
	set("fresh")
	b.mu.Lock()
	owners := len(b.owners)
	b.mu.Unlock()
	if b.len() != 1 || owners != 0 {
		t.Errorf("after expiry: %d entries, %d owners; want 1 and 0", b.len(), owners)
	}
	// A token set again (fiber extends it on every request) is claimed anew.
	b.ClaimForm("fresh", "10.0.0.4", 2, 0)
	set("fresh")
	if n := b.ClaimForm("fresh", "10.0.0.4", 2, 0); n != 0 {
		t.Error("re-claiming a re-set token dropped something")
	}
	b.mu.Lock()
	own := b.owners["10.0.0.4"].Len()
	b.mu.Unlock()
	if own != 1 {
		t.Errorf("owner holds %d entries for one token", own)
	}
}

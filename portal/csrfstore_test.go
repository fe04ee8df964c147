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

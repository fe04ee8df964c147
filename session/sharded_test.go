package session

import (
	"fmt"
	"net/netip"
	"sync"
	"testing"
	"time"
	"unsafe"
)

type testMap = shardedMap[string, *int, stringHash[string]]

func TestShardedMap(t *testing.T) {
	var m testMap
	a, b := new(int), new(int)
	if v, ok := m.Load("k"); ok || v != nil {
		t.Fatalf("empty map: Load = %v, %v", v, ok)
	}
	if m.CompareAndDelete("k", nil) {
		t.Error("CompareAndDelete of an absent key with a nil old value deleted (sync.Map does not)")
	}
	m.Store("k", a)
	if v, ok := m.Load("k"); !ok || v != a {
		t.Fatalf("Load after Store = %v, %v", v, ok)
	}
	if prev, loaded := m.Swap("k", b); !loaded || prev != a {
		t.Errorf("Swap = %v, %v; want the stored value", prev, loaded)
	}
	if prev, loaded := m.Swap("new", a); loaded || prev != nil {
		t.Errorf("Swap of a new key = %v, %v", prev, loaded)
	}
	if m.CompareAndDelete("k", a) {
		t.Error("CompareAndDelete with a value that was replaced deleted")
	}
	if v, _ := m.Load("k"); v != b {
		t.Errorf("Load = %v after a failed CompareAndDelete", v)
	}
	if !m.CompareAndDelete("k", b) {
		t.Error("CompareAndDelete with the current value did not delete")
	}
	if _, ok := m.Load("k"); ok {
		t.Error("key still there after CompareAndDelete")
	}
	m.Delete("new")
	m.Delete("never stored")
	if _, ok := m.Load("new"); ok {
		t.Error("key still there after Delete")
	}

	// String values compare by content, as the address maps need.
	var ips shardedMap[netip.Addr, string, addrHash]
	ip := netip.MustParseAddr("2001:db8::1")
	ips.Store(ip, "id")
	if !ips.CompareAndDelete(ip, string([]byte("id"))) {
		t.Error("CompareAndDelete of an equal string in another array did not delete")
	}
}

// TestShardedMapRange: every key once, a stop ends the walk, and f may write
// to the map, including deleting the key it is given (index.drop does).
func TestShardedMapRange(t *testing.T) {
	var m testMap
	const n = 5000
	for i := range n {
		m.Store(fmt.Sprint(i), new(int))
	}
	done := make(chan map[string]int)
	go func() {
		seen := map[string]int{}
		m.Range(func(k string, v *int) bool {
			seen[k]++
			m.Delete(k)              // would deadlock if Range held the shard's lock
			m.Store("x"+k, new(int)) // lands in shards yet to be walked, or not
			return true
		})
		done <- seen
	}()
	var seen map[string]int
	select {
	case seen = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Range with a writing callback did not return: it holds a lock while calling back")
	}
	for i := range n {
		if k := fmt.Sprint(i); seen[k] != 1 {
			t.Fatalf("key %s visited %d times, want 1", k, seen[k])
		}
		if _, ok := m.Load(fmt.Sprint(i)); ok {
			t.Fatalf("key %d not deleted by the callback", i)
		}
	}
	calls := 0
	m.Range(func(string, *int) bool { calls++; return false })
	if calls != 1 {
		t.Errorf("Range went on after f returned false: %d calls", calls)
	}
}

// TestShardedMapConcurrent is for -race: readers, a writer and Range at once,
// and every key stored before they start stays readable with its value.
func TestShardedMapConcurrent(t *testing.T) {
	var m testMap
	fixed := map[string]*int{}
	for i := range 1000 {
		k := fmt.Sprintf("fixed-%d", i)
		fixed[k] = new(int)
		m.Store(k, fixed[k])
	}
	stop, stopped := make(chan struct{}), make(chan struct{})
	go func() {
		defer close(stopped)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			k := fmt.Sprintf("churn-%d", i%500)
			v := new(int)
			m.Store(k, v)
			m.CompareAndDelete(k, v)
		}
	}()
	var readers sync.WaitGroup
	for range 2 {
		readers.Go(func() {
			for range 20 {
				for k, want := range fixed {
					if v, ok := m.Load(k); !ok || v != want {
						t.Errorf("Load(%s) = %v, %v during writes", k, v, ok)
						return
					}
				}
			}
		})
	}
	readers.Go(func() {
		for range 20 {
			n := 0
			m.Range(func(k string, v *int) bool {
				if want, ok := fixed[k]; ok {
					if v != want {
						t.Errorf("Range gave %s a value it never had", k)
					}
					n++
				}
				return true
			})
			if n != len(fixed) {
				t.Errorf("Range visited %d of the %d unchanging keys", n, len(fixed))
			}
		}
	})
	readers.Wait()
	close(stop)
	<-stopped
}

// TestShardedMapSpread: keys that differ only in their last characters, as
// session IDs made from a counter do, still use every shard.
func TestShardedMapSpread(t *testing.T) {
	var m testMap
	for i := range 64 * shardCount {
		m.Store(fmt.Sprintf("%032x", i), nil)
	}
	for i := range m.shards {
		if n := len(m.shards[i].m); n < 16 || n > 160 {
			t.Errorf("shard %d holds %d of %d keys; a uniform hash gives about 64", i, n, 64*shardCount)
		}
	}
}

// TestShardSize: one shard, one cache line (see shard).
func TestShardSize(t *testing.T) {
	if n := unsafe.Sizeof(shard[string, *entry]{}); n != 64 {
		t.Errorf("a shard takes %d bytes, want 64", n)
	}
}

package session

import (
	"encoding/binary"
	"math/rand/v2"
	"sync"
	"testing"
	"unsafe"
)

// crafted is a sum in shard 0 whose probe starts at slot home of any array
// larger than home, told apart by id: many of them collide, so probes run
// long, wrap around the array's end and deletions shift slots back.
func crafted(home, id uint64) macSum {
	var k macSum
	binary.LittleEndian.PutUint64(k[8:16], home)
	binary.LittleEndian.PutUint64(k[16:24], id)
	return k
}

// TestSumTableAgainstAMap runs random stores, replacements, deletions and
// compare-and-deletes on a table and on a Go map, and after each checks
// that every key the map holds is found with its entry and that deleted
// ones are not — with keys crowded on a few home slots near the end of
// the array, and with keys spread over the shards.
func TestSumTableAgainstAMap(t *testing.T) {
	for _, tc := range []struct {
		name string
		key  func(r *rand.Rand) macSum
	}{
		{"crowded", func(r *rand.Rand) macSum { return crafted(uint64(10+r.IntN(8)), uint64(r.IntN(60))) }},
		{"spread", func(r *rand.Rand) macSum {
			var k macSum
			binary.LittleEndian.PutUint64(k[0:8], r.Uint64())
			binary.LittleEndian.PutUint64(k[8:16], r.Uint64())
			binary.LittleEndian.PutUint64(k[16:24], uint64(r.IntN(3000)))
			return k
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			var tab sumTable
			ref := map[macSum]*entry{}
			keys := map[macSum]struct{}{} // every key ever used
			for op := range 6000 {
				k := tc.key(r)
				keys[k] = struct{}{}
				switch r.IntN(4) {
				case 0, 1:
					e := &entry{}
					tab.Store(k, e)
					ref[k] = e
				case 2:
					tab.Delete(k)
					delete(ref, k)
				case 3:
					old := ref[k]
					if r.IntN(2) == 0 {
						old = &entry{} // not the one stored
					}
					want := old != nil && ref[k] == old
					if got := tab.CompareAndDelete(k, old); got != want {
						t.Fatalf("op %d: CompareAndDelete = %v, want %v", op, got, want)
					}
					if want {
						delete(ref, k)
					}
				}
				if op%53 != 0 && op < 5990 {
					continue
				}
				for k := range keys {
					e, ok := tab.Load(k)
					if want, in := ref[k]; ok != in || e != want {
						t.Fatalf("op %d: Load = %p, %v; want %p, %v", op, e, ok, want, in)
					}
				}
				n := 0
				for i := range tab.shards {
					n += tab.shards[i].n
				}
				if n != len(ref) {
					t.Fatalf("op %d: the table counts %d keys, the map holds %d", op, n, len(ref))
				}
			}
		})
	}
}

// TestSumTableReadersDuringWrites: keys that stay are found by readers on
// every try while a writer stores and deletes others in the same shard,
// growing its array many times (run with -race).
func TestSumTableReadersDuringWrites(t *testing.T) {
	var tab sumTable
	stay := make([]macSum, 64)
	entries := make([]*entry, len(stay))
	for i := range stay {
		stay[i], entries[i] = crafted(uint64(i*7), uint64(i)), &entry{}
		tab.Store(stay[i], entries[i])
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			for n := 0; ; n++ {
				select {
				case <-stop:
					return
				default:
				}
				i := n % len(stay)
				if e, ok := tab.Load(stay[i]); !ok || e != entries[i] {
					t.Errorf("key %d: Load = %p, %v during writes", i, e, ok)
					return
				}
			}
		})
	}
	for n := range 5000 {
		k := crafted(uint64(n%50), uint64(1000+n))
		tab.Store(k, &entry{})
		if n%3 != 0 {
			tab.Delete(k)
		}
	}
	close(stop)
	wg.Wait()
}

func TestSumShardSize(t *testing.T) {
	if n := unsafe.Sizeof(sumShard{}); n != 64 {
		t.Errorf("a sumTable shard takes %d bytes, want 64", n)
	}
}

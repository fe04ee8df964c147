package redis

import (
	"context"

	goredis "github.com/redis/go-redis/v9"
)

// scanKeys calls emit with batches of the keys that match pattern and the
// client of the primary that holds them, until emit returns false. SCAN
// sees the keys of one server only, so on a cluster every primary is
// scanned, concurrently: emit must be safe for concurrent use. emit may
// keep the slice. Reading the keys through the same node's client spares
// the cluster client mapping every key to its slot again.
func (s *Store) scanKeys(ctx context.Context, match string, batch int, emit func(keys []string, node *goredis.Client) bool) error {
	return s.forEachPrimary(ctx, func(ctx context.Context, c *goredis.Client) error {
		iter := c.Scan(ctx, 0, match, int64(batch)).Iterator()
		keys := make([]string, 0, batch)
		for iter.Next(ctx) {
			keys = append(keys, iter.Val())
			if len(keys) == batch {
				if !emit(keys, c) {
					return nil
				}
				keys = make([]string, 0, batch)
			}
		}
		if err := iter.Err(); err != nil {
			return err
		}
		if len(keys) > 0 {
			emit(keys, c)
		}
		return nil
	})
}

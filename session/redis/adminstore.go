package redis

import (
	"context"
	"errors"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/session"
)

var _ session.AdminStore = (*Store)(nil)

// adminKey holds an admin's generation, without expiry: it is a few bytes
// per admin user, and forgetting it would let old tokens back in.
func (s *Store) adminKey(name string) string { return s.prefix + "admin-generation:" + name }

// AdminGeneration returns the admin's generation; 0 if never raised.
func (s *Store) AdminGeneration(ctx context.Context, name string) (uint64, error) {
	g, err := s.c.Get(ctx, s.adminKey(name)).Uint64()
	if errors.Is(err, goredis.Nil) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("admin generation", err)
	}
	return g, nil
}

// RaiseAdminGeneration raises the admin's generation with INCR (atomic
// across gateways) and returns the new value.
func (s *Store) RaiseAdminGeneration(ctx context.Context, name string) (uint64, error) {
	g, err := s.c.Incr(ctx, s.adminKey(name)).Uint64()
	if err != nil {
		return 0, wrap("raise admin generation", err)
	}
	return g, nil
}

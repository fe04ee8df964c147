package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"roamgate/session"
)

var _ session.AdminStore = (*Store)(nil)

// AdminGeneration returns the admin's generation; 0 if never raised.
func (s *Store) AdminGeneration(ctx context.Context, name string) (uint64, error) {
	var g int64
	err := s.r.QueryRowContext(ctx, `SELECT generation FROM admin_generations WHERE name = ?`, name).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("admin generation", err)
	}
	return uint64(g), nil
}

// RaiseAdminGeneration raises the admin's generation by one in one
// statement (the writer connection serialises it) and returns the new
// value; it is durable when it returns.
func (s *Store) RaiseAdminGeneration(ctx context.Context, name string) (uint64, error) {
	var g int64
	err := s.w.QueryRowContext(ctx, `INSERT INTO admin_generations (name, generation) VALUES (?, 1)
		ON CONFLICT (name) DO UPDATE SET generation = generation + 1
		RETURNING generation`, name).Scan(&g)
	if err != nil {
		return 0, wrap("raise admin generation", err)
	}
	return uint64(g), s.synced("raise admin generation")
}

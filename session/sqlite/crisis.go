package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"

	"roamgate/session"
)

var _ session.CrisisStore = (*Store)(nil)

// SaveCrisis replaces the crisis state. It is durable when SaveCrisis
// returns; a gateway on the same file reads it within a second (the
// Manager polls a store without a change feed).
func (s *Store) SaveCrisis(ctx context.Context, c session.Crisis) error {
	msg, err := json.Marshal(c.Message)
	if err != nil {
		return wrap("save crisis", err)
	}
	links, err := json.Marshal(c.Links)
	if err != nil {
		return wrap("save crisis", err)
	}
	since, err1 := toNanos(c.Since)
	until, err2 := toNanos(c.Until)
	if err := errors.Join(err1, err2); err != nil {
		return wrap("save crisis", err)
	}
	_, err = s.w.ExecContext(ctx, `INSERT INTO crisis (id, active, message, links, since, until, by)
		VALUES (1, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (id) DO UPDATE SET active = excluded.active, message = excluded.message,
			links = excluded.links, since = excluded.since, until = excluded.until, by = excluded.by`,
		c.Active, string(msg), string(links), since, until, c.By)
	if err != nil {
		return wrap("save crisis", err)
	}
	return s.synced("save crisis")
}

// LoadCrisis returns the saved crisis state, or the zero Crisis if none was
// ever saved.
func (s *Store) LoadCrisis(ctx context.Context) (session.Crisis, error) {
	var (
		c            session.Crisis
		active       int64
		msg, links   string
		since, until sql.NullInt64
	)
	err := s.r.QueryRowContext(ctx, `SELECT active, message, links, since, until, by FROM crisis WHERE id = 1`).
		Scan(&active, &msg, &links, &since, &until, &c.By)
	if errors.Is(err, sql.ErrNoRows) {
		return session.Crisis{}, nil
	}
	if err != nil {
		return session.Crisis{}, wrap("load crisis", err)
	}
	if err := json.Unmarshal([]byte(msg), &c.Message); err != nil {
		return session.Crisis{}, wrap("load crisis", err)
	}
	if err := json.Unmarshal([]byte(links), &c.Links); err != nil {
		return session.Crisis{}, wrap("load crisis", err)
	}
	c.Active = active != 0
	c.Since, c.Until = fromNanos(since), fromNanos(until)
	return c, nil
}

package gateway

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"time"

	"roamgate/assets"
	"roamgate/session"
)

// SwitchCrisis writes a crisis switch straight to the configured store, for
// `roamgate crisis on|off`: it works with every gateway stopped (they read
// it at start) and, on a running domain, reaches the gateways as a switch
// in the admin does (Redis: the change feed at once; SQLite: the gateway
// re-reads the file every second). Languages without a message get the
// default one (Config.CrisisMessages), so that nobody has to compose text
// in an emergency. It returns the state as stored.
func SwitchCrisis(ctx context.Context, cfg Config, c session.Crisis) (session.Crisis, error) {
	if err := cfg.Validate(); err != nil {
		return session.Crisis{}, fmt.Errorf("config: %w", err)
	}
	if c.Active {
		c.Message = withDefaultMessages(c.Message, cfg.CrisisMessages())
	}
	c, err := session.PrepareCrisis(c, time.Now())
	if err != nil {
		return session.Crisis{}, err
	}
	store, err := openStore(ctx, cfg.Store, cfg.SQLitePath(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		return session.Crisis{}, err
	}
	defer store.Close()
	cs, ok := store.(session.CrisisStore)
	if !ok {
		return session.Crisis{}, fmt.Errorf("store.driver %s cannot keep the crisis state", cfg.Store.Driver)
	}
	if err := cs.SaveCrisis(ctx, c); err != nil {
		return session.Crisis{}, err
	}
	return c, nil
}

// Languages are the languages roamgate has texts in (portal and admin), the
// reference language (German) first: the crisis command's -message-LANG
// flags.
func Languages() []string { return assets.Languages() }

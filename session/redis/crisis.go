package redis

import (
	"context"
	"encoding/json"
	"errors"

	goredis "github.com/redis/go-redis/v9"

	"roamgate/session"
)

var _ session.CrisisStore = (*Store)(nil)

// crisisChange is the message on the changes channel that tells every
// gateway to re-read the crisis state.
const crisisChange = "crisis"

// saveCrisisScript stores the state and announces it in one step, so no
// gateway can read the announcement before the value.
var saveCrisisScript = goredis.NewScript(`
redis.call('SET', KEYS[1], ARGV[1])
if ARGV[3] ~= '' then redis.call('PUBLISH', ARGV[2], ARGV[3]) end
return 1`)

// crisisKey holds the crisis state as JSON, without expiry: the state is
// inactive after its Until whatever the key says, and the last switch
// (who, when) stays visible.
func (s *Store) crisisKey() string { return s.prefix + "crisis" }

// SaveCrisis replaces the crisis state and announces it on the changes
// channel; every gateway's Manager re-reads it at once.
func (s *Store) SaveCrisis(ctx context.Context, c session.Crisis) error {
	data, err := json.Marshal(c)
	if err != nil {
		return wrap("save crisis", err)
	}
	inScript := crisisChange
	if s.clustered() {
		inScript = "" // published below (see announce)
	}
	n, err := s.run(ctx, saveCrisisScript, s.crisisKey(), string(data), s.channel(), inScript)
	if n == 1 && inScript == "" {
		s.announce(ctx, crisisChange)
	}
	if err != nil {
		return wrap("save crisis", err)
	}
	return nil
}

// LoadCrisis returns the saved crisis state, or the zero Crisis if none.
func (s *Store) LoadCrisis(ctx context.Context) (session.Crisis, error) {
	data, err := s.c.Get(ctx, s.crisisKey()).Bytes()
	if errors.Is(err, goredis.Nil) {
		return session.Crisis{}, nil
	}
	if err != nil {
		return session.Crisis{}, wrap("load crisis", err)
	}
	var c session.Crisis
	if err := json.Unmarshal(data, &c); err != nil {
		return session.Crisis{}, wrap("load crisis", err)
	}
	return c, nil
}

-- Crisis mode: sessions created while it was active are marked, and the
-- crisis state itself is one row (id 1). Message and links are JSON; times
-- are Unix nanoseconds (UTC), NULL for the zero time.
ALTER TABLE sessions ADD COLUMN crisis INTEGER NOT NULL DEFAULT 0;

CREATE TABLE crisis (
	id      INTEGER NOT NULL PRIMARY KEY CHECK (id = 1),
	active  INTEGER NOT NULL,
	message TEXT    NOT NULL,
	links   TEXT    NOT NULL,
	since   INTEGER,
	until   INTEGER,
	by      TEXT    NOT NULL
) STRICT;

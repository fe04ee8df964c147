-- Sessions as session.Record holds them. Times are Unix nanoseconds (UTC),
-- NULL for the zero time. Octets are uint64 stored bit for bit in INTEGER.
CREATE TABLE sessions (
	id               TEXT    NOT NULL PRIMARY KEY,
	mac_key          TEXT    NOT NULL,
	random_mac       INTEGER NOT NULL,
	network          TEXT    NOT NULL,
	location         TEXT    NOT NULL,
	current_location TEXT    NOT NULL,
	ap               TEXT    NOT NULL,
	created          INTEGER,
	expires          INTEGER,
	last_seen        INTEGER,
	input_octets     INTEGER NOT NULL,
	output_octets    INTEGER NOT NULL,
	roams            INTEGER NOT NULL,
	revoked          INTEGER NOT NULL,
	sealed_token     BLOB    NOT NULL
) STRICT;

-- Live and DeleteEnded select by expiry.
CREATE INDEX sessions_expires ON sessions (expires);

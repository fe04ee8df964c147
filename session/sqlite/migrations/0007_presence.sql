-- The fold (activity.go) used to write each moved session's newest activity
-- into its row in sessions: a whole ~600-byte row with a sealed token in it,
-- seven to a 4 KiB page, so that folding a town's moves rewrote most of the
-- table's pages, into the WAL and again at the checkpoint. A session's
-- activity now has a row of its own here, ~230 bytes, made with the
-- session's row at sign-in and removed with it (the triggers); the fold
-- updates only these. sessions keeps the values of the sign-in, which no
-- one reads any more. sid is the session's rowid, id its ID: a session that
-- takes a deleted one's rowid over gets a row of its own, and the fold
-- applies a log row only where both match.
CREATE TABLE presence (
	sid              INTEGER NOT NULL PRIMARY KEY,
	id               TEXT    NOT NULL,
	current_location TEXT    NOT NULL,
	ap               TEXT    NOT NULL,
	last_seen        INTEGER,
	roams            INTEGER NOT NULL,
	input_octets     INTEGER NOT NULL,
	output_octets    INTEGER NOT NULL,
	nas_addr         TEXT    NOT NULL,
	nas_id           TEXT    NOT NULL,
	acct_session_id  TEXT    NOT NULL,
	sealed_device    BLOB    NOT NULL
) STRICT;

INSERT INTO presence SELECT rowid, id, current_location, ap, last_seen, roams,
	input_octets, output_octets, nas_addr, nas_id, acct_session_id, sealed_device
FROM sessions;

CREATE TRIGGER sessions_presence_insert AFTER INSERT ON sessions BEGIN
	REPLACE INTO presence VALUES (new.rowid, new.id, new.current_location, new.ap, new.last_seen, new.roams,
		new.input_octets, new.output_octets, new.nas_addr, new.nas_id, new.acct_session_id, new.sealed_device);
END;

CREATE TRIGGER sessions_presence_delete AFTER DELETE ON sessions BEGIN
	DELETE FROM presence WHERE sid = old.rowid;
END;

-- Every session as the store reads it, but for the log not folded yet (for
-- the store's reads, and for sqlite3 on a copy of the file).
CREATE VIEW current_sessions AS SELECT
	s.id, s.mac_key, s.random_mac, s.network, s.location,
	p.current_location, p.ap, s.created, s.expires, p.last_seen,
	p.input_octets, p.output_octets, p.roams, s.revoked, s.sealed_token,
	p.nas_addr, p.nas_id, p.acct_session_id, p.sealed_device, s.crisis
FROM sessions AS s JOIN presence AS p ON p.sid = s.rowid;

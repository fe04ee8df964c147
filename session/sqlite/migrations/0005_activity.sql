-- Activity (Store.Touch) is appended here and folded into the sessions rows
-- in batches (see activity.go): updating a session row in place rewrites its
-- whole 4 KiB page in the WAL, and again at the checkpoint, for the hundred
-- bytes a move changes. sid is the session's rowid when the row was appended;
-- id makes sure the fold never applies it to another session that took the
-- rowid over. NULL octets and device keep the values before them.
CREATE TABLE activity (
	seq              INTEGER NOT NULL PRIMARY KEY,
	sid              INTEGER NOT NULL,
	id               TEXT    NOT NULL,
	current_location TEXT    NOT NULL,
	ap               TEXT    NOT NULL,
	last_seen        INTEGER,
	roams            INTEGER NOT NULL,
	input_octets     INTEGER,
	output_octets    INTEGER,
	nas_addr         TEXT    NOT NULL,
	nas_id           TEXT    NOT NULL,
	acct_session_id  TEXT    NOT NULL,
	sealed_device    BLOB
) STRICT;

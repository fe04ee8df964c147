-- The admin listener's sign-out state: a generation per admin user name,
-- raised on sign-out; admin tokens of an older generation are refused.
CREATE TABLE admin_generations (
	name       TEXT    NOT NULL PRIMARY KEY,
	generation INTEGER NOT NULL CHECK (generation >= 0)
) STRICT;

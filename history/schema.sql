-- Raw events: purged after retention.raw. No session ID, MAC, IP or token.
CREATE TABLE IF NOT EXISTS events (
	at       INTEGER NOT NULL, -- unix seconds
	kind     TEXT    NOT NULL,
	network  TEXT    NOT NULL,
	location TEXT    NOT NULL,
	ap       TEXT    NOT NULL,
	reason   TEXT    NOT NULL DEFAULT ''
);
CREATE INDEX IF NOT EXISTS events_at ON events(at);

-- Hourly counts (UTC hours): kept retention.aggregates.
CREATE TABLE IF NOT EXISTS hourly (
	hour     INTEGER NOT NULL, -- unix seconds of the hour's start
	network  TEXT    NOT NULL,
	location TEXT    NOT NULL,
	ap       TEXT    NOT NULL,
	signins  INTEGER NOT NULL DEFAULT 0,
	roams    INTEGER NOT NULL DEFAULT 0,
	rebinds  INTEGER NOT NULL DEFAULT 0,
	ends     INTEGER NOT NULL DEFAULT 0,
	PRIMARY KEY (hour, network, location, ap)
) WITHOUT ROWID;

-- Distinct devices per hour and per day: kept retention.aggregates.
CREATE TABLE IF NOT EXISTS devices (
	period TEXT    NOT NULL, -- 'hour' or 'day'
	start  INTEGER NOT NULL,
	count  INTEGER NOT NULL,
	PRIMARY KEY (period, start)
) WITHOUT ROWID;

-- Which device hashes a period has counted: purged with the raw events.
CREATE TABLE IF NOT EXISTS seen (
	period TEXT    NOT NULL,
	start  INTEGER NOT NULL,
	device BLOB    NOT NULL,
	PRIMARY KEY (period, start, device)
) WITHOUT ROWID;

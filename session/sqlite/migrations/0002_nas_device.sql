-- The NAS that last reported a session (the Disconnect-Request target) and
-- the device (MAC, IP addresses), sealed by the session package.
ALTER TABLE sessions ADD COLUMN nas_addr TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN nas_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN acct_session_id TEXT NOT NULL DEFAULT '';
ALTER TABLE sessions ADD COLUMN sealed_device BLOB NOT NULL DEFAULT x'';

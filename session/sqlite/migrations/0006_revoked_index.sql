-- DeleteEnded (the gateway's sweep, once a minute) finds the ended sessions
-- through indexes: expired ones through sessions_expires, revoked ones
-- through this index, which holds only them. Its WHERE with OR had SQLite
-- read every row: 0.4–0.7 s of CPU a minute at a million sessions, while
-- RADIUS waited (make bench-radius SESSIONS=1000000 DURATION=70s).
CREATE INDEX sessions_revoked ON sessions (revoked) WHERE revoked != 0;

-- The PostgreSQL store, version 3: a session's engineer (msp/_model/identity.py), as the SQLite
-- store gained in its version 5, so "one active session" holds per engineer and project.
--
-- Taken from the session_started events, which have carried user and host all along; NULL
-- where one did not (such a session belongs to whoever asks). "user" is quoted: it is a
-- reserved word. The projection's state (JSON text) gets them too, so a hook's session shows
-- them without a re-fold; a JSON null where the event had none.
ALTER TABLE sessions ADD COLUMN "user" text;
ALTER TABLE sessions ADD COLUMN host text;
UPDATE sessions s SET "user" = e.data::jsonb ->> 'user', host = e.data::jsonb ->> 'host'
    FROM events e
    WHERE e.session_id = s.id AND e.type = 'session_started'
      AND e.seq = (SELECT min(seq) FROM events f WHERE f.session_id = s.id AND f.type = 'session_started');
UPDATE sessions SET state = jsonb_set(
        jsonb_set(state::jsonb, '{fields,user}', coalesce(to_jsonb("user"), 'null'::jsonb)),
        '{fields,host}', coalesce(to_jsonb(host), 'null'::jsonb))::text
    WHERE state IS NOT NULL;
CREATE INDEX sessions_active_by_engineer ON sessions (project, "user") WHERE status = 'active';

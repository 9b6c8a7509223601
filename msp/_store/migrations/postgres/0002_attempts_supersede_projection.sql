-- The PostgreSQL store, version 2: what the SQLite store gained in its versions 3 and 4.
--
-- sessions.state: the session projection's folded fields and list counts as JSON text (see
-- msp/_store/session_state.py), so the session a hook receives is read, not re-folded from
-- every event. NULL on the rows of an older store: such a session is folded once from its
-- events, at its next event.
ALTER TABLE sessions ADD COLUMN state text;

-- actions.target: what a file action writes (outbox_rules.file_target), so a newer write finds
-- the waiting ones it supersedes through an index holding only waiting actions. bytea, not
-- text: the key separates its parts with NUL, which a PostgreSQL text value cannot hold; bytes
-- compare byte-wise, so a prefix is a plain range.
ALTER TABLE actions ADD COLUMN target bytea;
CREATE INDEX actions_supersede ON actions (integration, target) WHERE status IN ('pending', 'held');

-- What an attempt is. started_ms: the drain holding the lease started delivering the action
-- (a reclaimed lease counts an attempt only then); leases taken before this migration are
-- taken as started. offline_attempts: attempts that never reached the service, bounded by
-- age rather than max_attempts.
ALTER TABLE actions ADD COLUMN started_ms bigint;
ALTER TABLE actions ADD COLUMN offline_attempts integer NOT NULL DEFAULT 0;
UPDATE actions SET started_ms = updated_ms WHERE status = 'in_flight';

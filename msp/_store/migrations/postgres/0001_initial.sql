-- The PostgreSQL store, version 1: the same tables as the SQLite store at its version 2.
-- Texts that are compared or sorted (ids, ISO times, order keys) use the "C" collation, so they
-- sort byte-wise as in SQLite whatever the database's locale.

CREATE TABLE events (
    -- Assigned while the appending transaction holds the store's append lock (see
    -- msp/_store/postgres.py), so a reader never sees a later seq before an earlier one commits.
    seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    id text COLLATE "C" NOT NULL UNIQUE,
    type text NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    project text NOT NULL,
    at text COLLATE "C" NOT NULL,
    at_ms bigint NOT NULL,
    source text NOT NULL,
    data text NOT NULL
);
CREATE INDEX events_by_session ON events (session_id, type, seq);
CREATE INDEX events_by_time ON events (at_ms);

CREATE FUNCTION msp_events_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'events are append-only';
END
$$;
CREATE TRIGGER events_no_change BEFORE UPDATE OR DELETE ON events
    FOR EACH ROW EXECUTE FUNCTION msp_events_append_only();
CREATE TRIGGER events_no_truncate BEFORE TRUNCATE ON events
    FOR EACH STATEMENT EXECUTE FUNCTION msp_events_append_only();

CREATE TABLE sessions (
    id text COLLATE "C" PRIMARY KEY,
    project text NOT NULL,
    status text NOT NULL,
    started_at text COLLATE "C" NOT NULL,
    ended_at text COLLATE "C",
    start_progress integer NOT NULL,
    progress integer NOT NULL,
    last_seq bigint NOT NULL,
    last_at text COLLATE "C" NOT NULL,
    goal text,
    issue text,
    event_count integer NOT NULL
);
CREATE INDEX sessions_by_project ON sessions (project, started_at);
CREATE INDEX sessions_by_start ON sessions (started_at);
CREATE INDEX sessions_by_status ON sessions (status);

CREATE TABLE blockers (
    id text COLLATE "C" PRIMARY KEY,
    project text NOT NULL,
    session_id text COLLATE "C" NOT NULL,
    text text NOT NULL,
    raised_seq bigint NOT NULL,
    resolved_seq bigint
);
CREATE INDEX blockers_open ON blockers (project, resolved_seq);

CREATE TABLE actions (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    idempotency_key text COLLATE "C" NOT NULL UNIQUE,
    event_id text NOT NULL,
    integration text NOT NULL,
    position integer NOT NULL,
    kind text NOT NULL,
    session_id text COLLATE "C",
    -- The lane's session as a non-null key, so lane look-ups are plain equalities on an index.
    lane text COLLATE "C" GENERATED ALWAYS AS (coalesce(session_id, '')) STORED,
    payload text NOT NULL,
    status text NOT NULL,
    attempts integer NOT NULL DEFAULT 0,
    created_ms bigint NOT NULL,
    next_attempt_ms bigint NOT NULL,
    lease_until_ms bigint,
    lease_owner text,
    last_error text,
    result text,
    updated_ms bigint NOT NULL,
    -- An action's place in its lane (outbox_rules.order_key / follow_up_order_key).
    order_key text COLLATE "C" NOT NULL,
    parent_id bigint,
    window_start_ms bigint,
    last_status integer
);
CREATE FUNCTION msp_actions_order_key() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.order_key IS NULL THEN
        NEW.order_key := lpad(NEW.id::text, 12, '0');
    END IF;
    RETURN NEW;
END
$$;
CREATE TRIGGER actions_order_key BEFORE INSERT ON actions
    FOR EACH ROW EXECUTE FUNCTION msp_actions_order_key();
CREATE INDEX actions_by_status ON actions (status, next_attempt_ms);
CREATE INDEX actions_lane_active ON actions (integration, lane, order_key)
    WHERE status IN ('pending', 'in_flight');
CREATE INDEX actions_claim ON actions (integration, order_key) WHERE status = 'pending';
CREATE INDEX actions_by_owner ON actions (lease_owner) WHERE status = 'in_flight';

CREATE TABLE hook_failures (
    id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    event_id text NOT NULL,
    integration text NOT NULL,
    hook text NOT NULL,
    error text NOT NULL,
    at_ms bigint NOT NULL
);
CREATE INDEX hook_failures_by_integration ON hook_failures (integration, id);

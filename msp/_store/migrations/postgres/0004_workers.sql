-- Delivery workers (`msp dispatch --worker`) as their heartbeats describe them, for
-- `msp store status`: one row per worker, written by the worker itself on every heartbeat.
CREATE TABLE workers (
    id text COLLATE "C" PRIMARY KEY,
    host text NOT NULL,
    pid integer NOT NULL,
    started_ms bigint NOT NULL,
    last_beat_ms bigint NOT NULL,
    integrations text[] NOT NULL,
    delivered bigint NOT NULL DEFAULT 0,
    stopped_ms bigint
);
CREATE INDEX workers_by_beat ON workers (last_beat_ms);

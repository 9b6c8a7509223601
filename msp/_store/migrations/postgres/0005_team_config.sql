-- The PostgreSQL store, version 3: the team's integration sections (`msp config push`), as the
-- SQLite store's version 5 keeps them. One row per revision: all the sections as they are after
-- it (JSON text; never a secret, only where one is named), which ones it changed, who pushed it
-- and when. Revisions are numbered under the append lock, so two pushes never share one.
CREATE TABLE team_config (
    revision integer PRIMARY KEY,
    sections text NOT NULL,
    changed text NOT NULL,
    pushed_by text NOT NULL,
    pushed_at text NOT NULL
);

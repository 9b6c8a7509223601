-- A blocker taken back (`msp retract`, event item_retracted) leaves the index of open blockers:
-- retracted_seq is the position of that event, NULL while the blocker stands.
ALTER TABLE blockers ADD COLUMN retracted_seq bigint;

-- Every close of a session and its reopening (docs/REPORTING.md, report_session_closures). The
-- reports counted closes from the sessions still closed, dated by their last status change: a
-- session closed on Monday and reopened on Tuesday vanished from Monday's count, and a day's
-- figures changed after the day. Written by a trigger on the session's status
-- (functions/record_session_closure.sql); sessions closed before this are entered by
-- backfill_session_closures() (functions/backfill_session_closures.sql).
CREATE TABLE session_closures (
    id           bigint      GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    session_id   uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    closed_at    timestamptz NOT NULL,
    closed_by    text,
    reopened_at  timestamptz,
    reopened_by  text
) WITH (autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 1000);  -- migration 017
-- The close a reopening ends: the session's one without a reopening.
CREATE INDEX session_closures_open ON session_closures (session_id) WHERE reopened_at IS NULL;

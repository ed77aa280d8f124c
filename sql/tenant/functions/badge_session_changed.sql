-- Badge counts (migration 014): a session's new message or status changes every member's
-- contribution; the differences are appended to badge_deltas. Members are read fresh (a new
-- snapshot in this statement): a receipt on this session locks the session row first
-- (SessionStore+Receipts), so no membership of it can change between this update and its
-- commit.
--
-- A deleted session (no product path deletes one, SQL may) takes its members' contributions with
-- it: the same function, before the delete, where NEW is NULL and so contributes 0. It runs
-- before the row goes, while the memberships are still there: the foreign key's cascade removes
-- them afterwards, and badge_member_changed() then finds no session and writes nothing.
CREATE OR REPLACE FUNCTION badge_session_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO badge_deltas (user_id, delta)
    SELECT m.user_id, d.delta
    FROM session_members m
    CROSS JOIN LATERAL (SELECT unread_contribution(NEW.status, m.archived_at IS NOT NULL, NEW.last_seq, m.last_read_seq, m.marked_unread)
                             - unread_contribution(OLD.status, m.archived_at IS NOT NULL, OLD.last_seq, m.last_read_seq, m.marked_unread) AS delta) AS d
    WHERE m.session_id = OLD.id AND d.delta <> 0;
    -- The delete goes on with OLD; after an update the result is ignored. `RETURN OLD` names a
    -- variable; `RETURN NULL` would be an expression, one more plan per backend and brokerage
    -- (decision 0046).
    RETURN OLD;
END;
$$;

-- No `WHEN (OLD.last_seq IS DISTINCT FROM NEW.last_seq …)`: PostgreSQL 15 reads a trigger's
-- WHEN back from its catalog text, plans and compiles it at every statement that updates the
-- table (~38,000 instructions per send, 1.8 %; decision 0043), while an update that moves neither
-- column costs the function one statement that finds every difference 0 and writes nothing.
CREATE OR REPLACE TRIGGER sessions_badge AFTER UPDATE OF last_seq, status ON sessions
    FOR EACH ROW EXECUTE FUNCTION badge_session_changed();
CREATE OR REPLACE TRIGGER sessions_badge_delete BEFORE DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION badge_session_changed();
-- The delete had a function of its own for a while (175b3f7).
DROP FUNCTION IF EXISTS badge_session_deleted();

-- Whenever these triggers are (re)installed — the first time, or after a change to this file —
-- the counts are taken afresh, with session and membership writes held off until this
-- transaction (every function file of the schema) commits: no change can slip between the
-- count and the triggers.
LOCK TABLE sessions, session_members IN SHARE ROW EXCLUSIVE MODE;
DELETE FROM badge_deltas;
DELETE FROM badge_counts;
INSERT INTO badge_counts (user_id, unread)
SELECT m.user_id, sum(GREATEST(s.last_seq - m.last_read_seq, CASE WHEN m.marked_unread THEN 1 ELSE 0 END))
FROM session_members m JOIN sessions s ON s.id = m.session_id
WHERE s.status <> 'closed' AND m.archived_at IS NULL
GROUP BY m.user_id;

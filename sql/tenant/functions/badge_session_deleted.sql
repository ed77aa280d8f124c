-- Badge counts (migration 014, decision 0019).
-- A deleted session takes its members' contributions with it. No product path deletes a session,
-- but SQL may. The differences are written before the row goes, while its memberships are still
-- there: the foreign key's cascade removes them after the row, and badge_member_changed() then
-- finds no session and writes nothing for them. A BEFORE trigger on a delete costs a send
-- nothing, not even a plan.
CREATE OR REPLACE FUNCTION badge_session_deleted() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO badge_deltas (user_id, delta)
    SELECT m.user_id, -d.contribution
    FROM session_members m
    CROSS JOIN LATERAL (SELECT unread_contribution(OLD.status, OLD.last_seq, m.last_read_seq, m.marked_unread) AS contribution) AS d
    WHERE m.session_id = OLD.id AND d.contribution <> 0;
    RETURN OLD;
END;
$$;

CREATE OR REPLACE TRIGGER sessions_badge_delete BEFORE DELETE ON sessions
    FOR EACH ROW EXECUTE FUNCTION badge_session_deleted();

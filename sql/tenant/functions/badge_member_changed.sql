-- Badge counts (migration 014): a membership that is added, read, marked unread, archived or removed
-- changes its user's count by the difference of its contribution, against the session as it
-- is now (the session row is locked by whoever changes it, and by receipts: see
-- badge_session_changed()); the difference is appended to badge_deltas.
CREATE OR REPLACE FUNCTION badge_member_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_delta bigint;
BEGIN
    -- One query for the difference (NEW is NULL for a DELETE, OLD for an INSERT; a session
    -- that is gone leaves v_delta NULL): three statements in all, so three cached plans per
    -- backend and brokerage where ten were (decision 0046).
    SELECT coalesce(unread_contribution(s.status, NEW.archived_at IS NOT NULL, s.last_seq, NEW.last_read_seq, NEW.marked_unread), 0)
         - coalesce(unread_contribution(s.status, OLD.archived_at IS NOT NULL, s.last_seq, OLD.last_read_seq, OLD.marked_unread), 0)
    INTO v_delta
    FROM sessions s WHERE s.id = coalesce(NEW.session_id, OLD.session_id);
    IF v_delta <> 0 THEN
        INSERT INTO badge_deltas (user_id, delta) VALUES (coalesce(NEW.user_id, OLD.user_id), v_delta);
    END IF;
    -- An AFTER trigger's result is ignored. `RETURN NEW` names a variable; `RETURN NULL` would
    -- be an expression, one more plan per backend and brokerage (decision 0046).
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER session_members_badge AFTER INSERT OR DELETE OR UPDATE OF last_read_seq, marked_unread, archived_at ON session_members
    FOR EACH ROW EXECUTE FUNCTION badge_member_changed();

-- Badge counts (migration 014): a membership that is added, read, marked unread or removed
-- changes its user's count by the difference of its contribution, against the session as it
-- is now (the session row is locked by whoever changes it, and by receipts: see
-- badge_session_changed()); the difference is appended to badge_deltas.
CREATE OR REPLACE FUNCTION badge_member_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_status text;
    v_last_seq bigint;
    v_delta bigint := 0;
    v_user text;
BEGIN
    v_user := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
    SELECT s.status, s.last_seq INTO v_status, v_last_seq
    FROM sessions s WHERE s.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.session_id ELSE NEW.session_id END;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        v_delta := unread_contribution(v_status, v_last_seq, NEW.last_read_seq, NEW.marked_unread);
    END IF;
    IF TG_OP <> 'INSERT' THEN
        v_delta := v_delta - unread_contribution(v_status, v_last_seq, OLD.last_read_seq, OLD.marked_unread);
    END IF;
    IF v_delta <> 0 THEN
        INSERT INTO badge_deltas (user_id, delta) VALUES (v_user, v_delta);
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER session_members_badge AFTER INSERT OR DELETE OR UPDATE OF last_read_seq, marked_unread ON session_members
    FOR EACH ROW EXECUTE FUNCTION badge_member_changed();

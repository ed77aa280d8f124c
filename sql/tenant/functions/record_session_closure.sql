-- session_closures (migration 029): a session closed gets a row, a reopening ends it. A trigger,
-- so every writer of the status is counted (the API's close and reopen, the other copy of a
-- shared session, SQL). It fires only on updates that name `status`: a send never does.
CREATE OR REPLACE FUNCTION record_session_closure() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- A value, not now() in the statements (Citus, decision 0032).
    v_now timestamptz := now();
BEGIN
    IF NEW.status = 'closed' AND OLD.status <> 'closed' THEN
        INSERT INTO session_closures (session_id, closed_at, closed_by) VALUES (NEW.id, v_now, NEW.status_changed_by);
    ELSIF OLD.status = 'closed' AND NEW.status <> 'closed' THEN
        UPDATE session_closures SET reopened_at = v_now, reopened_by = NEW.status_changed_by
        WHERE session_id = NEW.id AND reopened_at IS NULL;
    END IF;
    -- An AFTER trigger's result is ignored (decision 0046: a variable, not an expression).
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER sessions_closures AFTER UPDATE OF status ON sessions
    FOR EACH ROW EXECUTE FUNCTION record_session_closure();

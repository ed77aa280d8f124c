-- session_closures (migration 029): a session closed gets a row, a reopening ends it. A trigger,
-- so every writer of the status is counted (the API's close and reopen, the other copy of a
-- shared session, SQL). It fires only on updates that name `status`: a send never does.
CREATE OR REPLACE FUNCTION record_session_closure() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    -- The change's own time and author, as the statement that made it stamped them (on Citus
    -- its now() is the coordinator's); a change by SQL that stamped neither is dated now, by
    -- nobody known. Values, not now() in the statements (Citus, decision 0032).
    v_at timestamptz := now();
    v_by text;
BEGIN
    IF NEW.status_changed_at IS DISTINCT FROM OLD.status_changed_at AND NEW.status_changed_at IS NOT NULL THEN
        v_at := NEW.status_changed_at;
        v_by := NEW.status_changed_by;
    END IF;
    IF NEW.status = 'closed' AND OLD.status <> 'closed' THEN
        INSERT INTO session_closures (session_id, closed_at, closed_by) VALUES (NEW.id, v_at, v_by);
    ELSIF OLD.status = 'closed' AND NEW.status <> 'closed' THEN
        UPDATE session_closures SET reopened_at = v_at, reopened_by = v_by
        WHERE session_id = NEW.id AND reopened_at IS NULL;
    END IF;
    -- An AFTER trigger's result is ignored (decision 0046: a variable, not an expression).
    RETURN NEW;
END;
$$;

CREATE OR REPLACE TRIGGER sessions_closures AFTER UPDATE OF status ON sessions
    FOR EACH ROW EXECUTE FUNCTION record_session_closure();

-- The sessions closed before the trigger was there (backfill_session_closures.sql).
SELECT backfill_session_closures();

-- session_closures (migration 029) for the sessions closed without a row: those closed before
-- migration 029 (record_session_closure.sql runs this once its trigger is in place, so no close
-- falls between the two), and those of an export made before it (TenantStore.importTenant).
-- Their close is dated by their last status change. Returns the rows entered.
CREATE OR REPLACE FUNCTION backfill_session_closures() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_entered integer;
BEGIN
    INSERT INTO session_closures (session_id, closed_at, closed_by)
    SELECT s.id, coalesce(s.status_changed_at, s.created_at), s.status_changed_by
    FROM sessions s
    WHERE s.status = 'closed' AND NOT EXISTS (SELECT 1 FROM session_closures c WHERE c.session_id = s.id AND c.reopened_at IS NULL);
    GET DIAGNOSTICS v_entered = ROW_COUNT;
    RETURN v_entered;
END;
$$;

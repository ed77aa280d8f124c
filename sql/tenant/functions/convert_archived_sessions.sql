-- Sessions archived the old way, `sessions.status = 'archived'` (before tenant migration 028,
-- decision 0061): each stays archived for whoever archived it — for each of its agents when SQL
-- did it (nobody named, or not a member) — and is active for everyone else. Until converted such
-- a row counts as active everywhere (its archiver's own list shows it too), so nothing is lost
-- meanwhile. Rows come from a brokerage migrated to 028, an export made before it and imported
-- (TenantStore.importTenant calls this), or a process of an older release still running.
-- Returns the sessions converted.
--
-- The members first, then the session, in two statements: each badge trigger counts against the
-- other table as it is. The archiver's unread leaves their badge with the first; the second
-- changes no count, since `archived` already counted as `active`.
CREATE OR REPLACE FUNCTION convert_archived_sessions() RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    -- A value, not now() in the statement: Citus refuses a stable function inside coalesce
    -- (decision 0032).
    v_now timestamptz := now();
    v_converted integer;
BEGIN
    UPDATE session_members m SET archived_at = coalesce(s.status_changed_at, v_now)
    FROM sessions s
    WHERE s.id = m.session_id AND s.status = 'archived' AND m.archived_at IS NULL
      AND (m.user_id = s.status_changed_by
           OR (m.role = 'agent' AND NOT EXISTS (SELECT 1 FROM session_members a
                                                WHERE a.session_id = s.id AND a.user_id = s.status_changed_by)));
    UPDATE sessions SET status = 'active' WHERE status = 'archived';
    GET DIAGNOSTICS v_converted = ROW_COUNT;
    RETURN v_converted;
END;
$$;

SELECT convert_archived_sessions();

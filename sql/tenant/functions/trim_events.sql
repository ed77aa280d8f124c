-- Event retention (docs/STREAM.md): deletes up to p_batch of the oldest events in position
-- order, stopping at the first one created at or after p_before. Returns how many rows went.
-- Deleting only a prefix of positions keeps "min(pos) - 1 is the last position deleted"
-- true, which is how a resume cursor is known to be too old. Called repeatedly (one
-- transaction each) by the maintenance service; it never touches event_clock, so it never
-- waits for or holds back sequence_events().
CREATE OR REPLACE FUNCTION trim_events(p_before timestamptz, p_batch integer) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_through bigint;
    v_count integer;
BEGIN
    SELECT max(pos) INTO v_through FROM (
        SELECT pos, bool_and(created_at < p_before) OVER (ORDER BY pos) AS old
        FROM (SELECT pos, created_at FROM events ORDER BY pos LIMIT p_batch) AS head
    ) AS prefix WHERE old;
    IF v_through IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM events WHERE pos <= v_through;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

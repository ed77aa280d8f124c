-- Webhook delivery, step 1 (decision 0034), after sequence_events() has numbered what committed
-- (in a transaction of its own, so the event clock is never held behind this one): for each endpoint no other process is scheduling right now, turns the events after its
-- scan position into deliveries — one per event of a type it asked for, the body fixed here —
-- and moves the position, in this one transaction: an event is scheduled exactly once per
-- endpoint, and a crash before COMMIT leaves it to the next run. A disabled endpoint moves its
-- position without deliveries: what happens while it is off is not sent later.
-- Returns the number of deliveries created.
CREATE OR REPLACE FUNCTION webhook_schedule(p_limit integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql AS $$
DECLARE
    v_head bigint;
    v_endpoint record;
    v_through bigint;
    v_count integer;
    v_total integer := 0;
BEGIN
    v_head := (SELECT position FROM event_clock WHERE singleton);
    FOR v_endpoint IN
        SELECT id, enabled, event_types, scan_position FROM webhook_endpoints
        WHERE scan_position < v_head
        ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
    LOOP
        IF NOT v_endpoint.enabled THEN
            UPDATE webhook_endpoints SET scan_position = v_head WHERE id = v_endpoint.id;
            CONTINUE;
        END IF;
        v_through := least(v_head, v_endpoint.scan_position + p_limit);
        INSERT INTO webhook_deliveries (endpoint_id, event_pos, event_type, body)
        SELECT v_endpoint.id, e.pos, e.type,
               json_build_object(
                   'type', e.type,
                   'timestamp', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   'data', e.data)::text
        FROM events e
        WHERE e.pos > v_endpoint.scan_position AND e.pos <= v_through AND e.type = ANY (v_endpoint.event_types)
        ORDER BY e.pos;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_total := v_total + v_count;
        UPDATE webhook_endpoints SET scan_position = v_through WHERE id = v_endpoint.id;
    END LOOP;
    RETURN v_total;
END;
$$;

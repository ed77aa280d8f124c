-- Webhook delivery, step 2 (decision 0034): claims the deliveries that are due, at most
-- p_per_endpoint in flight per endpoint across every process and p_max in all, each for
-- p_lease_seconds from now (longer than an attempt may take). An endpoint being claimed by another process is skipped (its row
-- lock), so the per-endpoint cap holds; a lease that ran out (its process died) is claimed
-- again. `lease` is the claim's token for webhook_record(). `secrets` are the ones that sign:
-- the current one, and the previous one while a rotation's overlap lasts.
DROP FUNCTION IF EXISTS webhook_claim(integer, double precision);
CREATE OR REPLACE FUNCTION webhook_claim(p_per_endpoint integer, p_lease_seconds double precision, p_max integer)
RETURNS TABLE (delivery_id uuid, endpoint_id uuid, url text, message_id text, body text, attempt integer,
               retry_step integer, lease timestamptz, secrets text[])
LANGUAGE plpgsql AS $$
DECLARE
    -- Values computed once, not volatile calls inside the statement (Citus refuses those in an
    -- UPDATE of a distributed table; decision 0032).
    v_now timestamptz := now();
    v_lease timestamptz := clock_timestamp() + make_interval(secs => p_lease_seconds);
BEGIN
    RETURN QUERY
    WITH e AS MATERIALIZED (
        SELECT w.id, w.url, w.secret, w.previous_secret, w.previous_secret_expires_at
        FROM webhook_endpoints w
        WHERE w.enabled AND EXISTS (
            SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= v_now)
        FOR NO KEY UPDATE OF w SKIP LOCKED
    ), picked AS MATERIALIZED (
        SELECT p.id, e.id AS endpoint FROM e CROSS JOIN LATERAL (
            SELECT d.id FROM webhook_deliveries d
            WHERE d.endpoint_id = e.id AND d.status = 'pending' AND d.next_attempt_at <= v_now
              AND (d.lease_until IS NULL OR d.lease_until < v_now)
            ORDER BY d.next_attempt_at, d.event_pos
            LIMIT greatest(0, p_per_endpoint - (
                SELECT count(*) FROM webhook_deliveries x
                WHERE x.endpoint_id = e.id AND x.lease_until IS NOT NULL AND x.lease_until >= v_now))
        ) AS p
        LIMIT greatest(0, p_max)
    )
    UPDATE webhook_deliveries d
    SET lease_until = v_lease, attempts = d.attempts + 1
    FROM picked JOIN e ON e.id = picked.endpoint
    -- Checked again on the row as it is now (a record or a redelivery may have just changed it).
    WHERE d.id = picked.id AND d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < v_now)
    RETURNING d.id, e.id, e.url, d.message_id, d.body, d.attempts, d.retry_step, d.lease_until,
              array_remove(ARRAY[e.secret, CASE WHEN e.previous_secret_expires_at > v_now THEN e.previous_secret END], NULL);
END;
$$;

-- Webhook delivery, step 2 for one endpoint (decision 0034): what an attempt that just ended
-- calls, so the endpoint's next due deliveries start at once instead of waiting for the next
-- pass over the brokerage. Like webhook_claim(), but waits for the endpoint's row lock (held for
-- moments by a pass or another attempt's claim) instead of skipping it: each of the endpoint's
-- attempts that ends refills its place under the cap.
CREATE OR REPLACE FUNCTION webhook_claim_endpoint(
    p_endpoint uuid, p_per_endpoint integer, p_lease_seconds double precision, p_max integer
)
RETURNS TABLE (delivery_id uuid, endpoint_id uuid, url text, message_id text, body text, attempt integer,
               retry_step integer, lease timestamptz, secrets text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_endpoint webhook_endpoints%ROWTYPE;
    v_now timestamptz;
    v_lease timestamptz;
    v_room integer;
BEGIN
    SELECT * INTO v_endpoint FROM webhook_endpoints w WHERE w.id = p_endpoint AND w.enabled FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- Taken after the lock: another claim that held it has committed its leases.
    v_now := clock_timestamp();
    v_lease := v_now + make_interval(secs => p_lease_seconds);
    v_room := least(p_max, p_per_endpoint - (
        SELECT count(*) FROM webhook_deliveries x
        WHERE x.endpoint_id = p_endpoint AND x.lease_until IS NOT NULL AND x.lease_until >= v_now));
    IF v_room <= 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE webhook_deliveries d SET lease_until = v_lease, attempts = d.attempts + 1
    WHERE d.id IN (
            SELECT x.id FROM webhook_deliveries x
            WHERE x.endpoint_id = p_endpoint AND x.status = 'pending' AND x.next_attempt_at <= v_now
              AND (x.lease_until IS NULL OR x.lease_until < v_now)
            ORDER BY x.next_attempt_at, x.event_pos
            LIMIT v_room)
      AND d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < v_now)
    RETURNING d.id, v_endpoint.id, v_endpoint.url, d.message_id, d.body, d.attempts, d.retry_step, d.lease_until,
              array_remove(ARRAY[v_endpoint.secret,
                                 CASE WHEN v_endpoint.previous_secret_expires_at > v_now THEN v_endpoint.previous_secret END], NULL);
END;
$$;

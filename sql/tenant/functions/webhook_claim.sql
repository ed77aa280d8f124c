-- Webhook delivery, step 2 (decision 0034): claims the deliveries that are due, at most
-- p_per_endpoint in flight per endpoint across every process and p_max in all, each for
-- p_lease_seconds from now (longer than an attempt may take). An endpoint being claimed by
-- another process is skipped (its row lock), so the per-endpoint cap holds; a lease that ran
-- out (its process died) is claimed again. The lease itself: webhook_lease().
DROP FUNCTION IF EXISTS webhook_claim(integer, double precision);
CREATE OR REPLACE FUNCTION webhook_claim(p_per_endpoint integer, p_lease_seconds double precision, p_max integer)
RETURNS TABLE (delivery_id uuid, endpoint_id uuid, url text, message_id text, body text, attempt integer,
               retry_step integer, lease timestamptz, secrets text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_now timestamptz := now();
    v_lease timestamptz := clock_timestamp() + make_interval(secs => p_lease_seconds);
    v_ids uuid[];
    v_id uuid;
    v_endpoint webhook_endpoints;
    v_left integer := p_max;
    v_taken integer;
BEGIN
    -- The endpoints with something due that no other claim holds, locked until commit: those
    -- with the fewest attempts in flight first, then the one whose delivery has waited longest.
    -- When the brokerage's share of attempts leaves room for few (WebhookDeliverer), endpoints
    -- that hang (each holding its cap, with the oldest backlog) come after healthy ones.
    -- (Their ids: Citus cannot pass rows of a CTE, an anonymous composite type, back from a
    -- worker.)
    WITH e AS MATERIALIZED (
        SELECT w.id, (SELECT min(d.next_attempt_at) FROM webhook_deliveries d
                      WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= v_now
                        AND (d.lease_until IS NULL OR d.lease_until < v_now)) AS due,
                     (SELECT count(*) FROM webhook_deliveries x
                      WHERE x.endpoint_id = w.id AND x.lease_until IS NOT NULL AND x.lease_until >= v_now) AS busy
        FROM webhook_endpoints w
        WHERE w.enabled AND EXISTS (
            SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= v_now)
        FOR NO KEY UPDATE OF w SKIP LOCKED
    )
    SELECT array_agg(e.id ORDER BY e.busy, e.due NULLS LAST, e.id) INTO v_ids FROM e;
    FOREACH v_id IN ARRAY coalesce(v_ids, '{}') LOOP
        EXIT WHEN v_left <= 0;
        SELECT * INTO v_endpoint FROM webhook_endpoints w WHERE w.id = v_id;
        RETURN QUERY SELECT * FROM webhook_lease(v_endpoint, v_left, p_per_endpoint, v_now, v_lease);
        GET DIAGNOSTICS v_taken = ROW_COUNT;
        v_left := v_left - v_taken;
    END LOOP;
END
$$;

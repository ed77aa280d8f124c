-- Webhook delivery, step 2 for one endpoint (decision 0034): what an attempt that just ended
-- calls, so the endpoint's next due deliveries start at once instead of waiting for the next
-- pass over the brokerage. Like webhook_claim(), but waits for the endpoint's row lock (held for
-- moments by a pass or another attempt's claim) instead of skipping it: each of the endpoint's
-- attempts that ends refills its place under the cap. The lease itself: webhook_lease().
CREATE OR REPLACE FUNCTION webhook_claim_endpoint(
    p_endpoint uuid, p_per_endpoint integer, p_lease_seconds double precision, p_max integer
)
RETURNS TABLE (delivery_id uuid, endpoint_id uuid, url text, message_id text, body text, attempt integer,
               retry_step integer, lease timestamptz, secrets text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_endpoint webhook_endpoints;
    v_now timestamptz;
BEGIN
    SELECT * INTO v_endpoint FROM webhook_endpoints w WHERE w.id = p_endpoint AND w.enabled FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- Taken after the lock: another claim that held it has committed its leases.
    v_now := clock_timestamp();
    RETURN QUERY SELECT * FROM webhook_lease(v_endpoint, p_max, p_per_endpoint, v_now, v_now + make_interval(secs => p_lease_seconds));
END
$$;

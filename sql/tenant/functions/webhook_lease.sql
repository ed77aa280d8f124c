-- Webhook delivery, the lease itself (decision 0034), shared by webhook_claim() and
-- webhook_claim_endpoint(): leases up to p_max of one endpoint's due deliveries, keeping at most
-- p_per_endpoint of its deliveries leased at once across every process, each until p_lease.
-- The caller holds the endpoint's row lock, so no other claim counts or leases for it meanwhile.
-- `lease` is the claim's token for webhook_record(); `secrets` the ones that sign: the current
-- one, and the previous and older ones while their rotations' overlaps last (migration 027). p_now and p_lease are computed by
-- the caller, not volatile calls inside the statements (Citus refuses those in an UPDATE of a
-- distributed table; decision 0032).
CREATE OR REPLACE FUNCTION webhook_lease(
    p_endpoint webhook_endpoints, p_max integer, p_per_endpoint integer, p_now timestamptz, p_lease timestamptz
)
RETURNS TABLE (delivery_id uuid, endpoint_id uuid, url text, message_id text, body text, attempt integer,
               retry_step integer, lease timestamptz, secrets text[])
LANGUAGE plpgsql AS $$
DECLARE
    v_room integer;
BEGIN
    v_room := least(p_max, p_per_endpoint - (
        SELECT count(*) FROM webhook_deliveries x
        WHERE x.endpoint_id = p_endpoint.id AND x.lease_until IS NOT NULL AND x.lease_until >= p_now));
    IF v_room <= 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE webhook_deliveries d SET lease_until = p_lease, attempts = d.attempts + 1
    WHERE d.id IN (
            SELECT x.id FROM webhook_deliveries x
            WHERE x.endpoint_id = p_endpoint.id AND x.status = 'pending' AND x.next_attempt_at <= p_now
              AND (x.lease_until IS NULL OR x.lease_until < p_now)
            ORDER BY x.next_attempt_at, x.event_pos
            LIMIT v_room)
      -- Checked again on the row as it is now (a record or a redelivery may have just changed it).
      AND d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < p_now)
    RETURNING d.id, p_endpoint.id, p_endpoint.url, d.message_id, d.body, d.attempts, d.retry_step, d.lease_until,
              array_remove(ARRAY[p_endpoint.secret,
                                 CASE WHEN p_endpoint.previous_secret_expires_at > p_now THEN p_endpoint.previous_secret END,
                                 CASE WHEN p_endpoint.older_secret_expires_at > p_now THEN p_endpoint.older_secret END], NULL);
END
$$;

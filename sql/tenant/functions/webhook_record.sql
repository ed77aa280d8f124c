-- Webhook delivery, step 3 (decision 0034): writes an attempt's outcome, if the claim is still
-- the caller's (p_lease, the token webhook_claim() returned; otherwise 'stale' and nothing is
-- written). A 2xx ends the delivery and the endpoint's failing streak. Any other outcome
-- schedules the next attempt p_retry_in seconds from now, or gives up when that is NULL. 410
-- Gone disables the endpoint at once; so does a streak of failures longer than p_disable_after
-- seconds (a streak ends at a success, or after p_streak_gap seconds without any attempt
-- failing). A failure locks the endpoint, then the delivery: the order of every other writer. Disabling tells the brokerage's other endpoints that asked for `webhook.disabled`.
-- Returns 'succeeded', 'retrying', 'failed', 'disabled' or 'stale'.
DROP FUNCTION IF EXISTS webhook_record(uuid, timestamptz, timestamptz, integer, integer, text, text, double precision, double precision);
CREATE OR REPLACE FUNCTION webhook_record(
    p_delivery uuid, p_lease timestamptz, p_started timestamptz, p_status integer, p_latency_ms integer,
    p_error text, p_response text, p_retry_in double precision, p_disable_after double precision,
    p_streak_gap double precision
) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    v_delivery webhook_deliveries%ROWTYPE;
    v_endpoint webhook_endpoints%ROWTYPE;
    -- Never NULL: an attempt without an answer (refused, timed out, a blocked address) has
    -- p_status NULL, and a NULL here skipped the endpoint's lock and the next attempt's time,
    -- which left the delivery pending with no time to be tried again.
    v_ok boolean := coalesce(p_status BETWEEN 200 AND 299, false);
    v_gone boolean := p_status IS NOT DISTINCT FROM 410;
    v_reason text;
    -- Values computed here, not in the statements: Citus refuses volatile functions in an UPDATE
    -- of a distributed table, and anything not immutable (timestamptz arithmetic) inside CASE
    -- (decision 0032).
    v_now timestamptz := clock_timestamp();
    v_next timestamptz;
    v_gap_start timestamptz := p_started - make_interval(secs => p_streak_gap);
    v_body text;
BEGIN
    -- A failure may change the endpoint (its streak, disabling): lock it first, as every other
    -- writer of both does. A success writes only the delivery, so it never holds the endpoint
    -- (the next claim for it would skip it meanwhile).
    IF NOT v_ok THEN
        PERFORM 1 FROM webhook_endpoints
        WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = p_delivery) FOR NO KEY UPDATE;
    END IF;
    SELECT * INTO v_delivery FROM webhook_deliveries
    WHERE id = p_delivery AND lease_until = p_lease AND status = 'pending' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'stale';
    END IF;
    INSERT INTO webhook_attempts (delivery_id, attempt, started_at, status, latency_ms, error, response)
    VALUES (p_delivery, v_delivery.attempts, p_started, p_status, p_latency_ms, left(p_error, 1000), left(p_response, 1000))
    ON CONFLICT (delivery_id, attempt) DO NOTHING;
    IF NOT (v_ok OR p_retry_in IS NULL OR v_gone) THEN
        v_next := v_now + make_interval(secs => p_retry_in);
    END IF;
    UPDATE webhook_deliveries SET
        status = CASE WHEN v_ok THEN 'succeeded' WHEN p_retry_in IS NULL OR v_gone THEN 'failed' ELSE 'pending' END,
        retry_step = retry_step + 1,
        next_attempt_at = v_next,
        lease_until = NULL,
        last_attempt_at = p_started, last_status = p_status, last_error = left(p_error, 1000), last_latency_ms = p_latency_ms,
        updated_at = v_now
    WHERE id = p_delivery;

    IF v_ok THEN
        -- Ends a failing streak without waiting for the endpoint's lock (so never in the
        -- opposite order of the other writers); if it is held, the next success ends it.
        UPDATE webhook_endpoints SET failing_since = NULL
        WHERE id = (SELECT w.id FROM webhook_endpoints w
                    WHERE w.id = v_delivery.endpoint_id AND w.failing_since IS NOT NULL FOR NO KEY UPDATE SKIP LOCKED);
        RETURN 'succeeded';
    END IF;
    UPDATE webhook_endpoints SET
        failing_since = CASE WHEN failing_since IS NULL OR last_failed_at < v_gap_start THEN p_started ELSE failing_since END,
        last_failed_at = p_started
    WHERE id = v_delivery.endpoint_id RETURNING * INTO v_endpoint;
    IF v_gone THEN
        v_reason := 'the endpoint answered 410 Gone';
    ELSIF v_endpoint.enabled AND v_endpoint.failing_since <= v_now - make_interval(secs => p_disable_after) THEN
        v_reason := 'every attempt failed since ' || to_char(v_endpoint.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
    END IF;
    IF v_reason IS NULL OR NOT v_endpoint.enabled THEN
        RETURN CASE WHEN p_retry_in IS NULL OR v_gone THEN 'failed' ELSE 'retrying' END;
    END IF;
    UPDATE webhook_endpoints SET enabled = false, disabled_reason = v_reason, updated_at = v_now
    WHERE id = v_endpoint.id;
    v_body := json_build_object(
        'type', 'webhook.disabled',
        'timestamp', to_char(v_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        -- The endpoint's origin, not its URL: a path or query may be the receiver's credential
        -- (hooks.zapier.com/hooks/catch/…), and the endpoints told are other integrations'.
        'data', json_build_object('endpointId', v_endpoint.id,
                                  'origin', regexp_replace(v_endpoint.url, '^([a-z][a-z0-9+.-]*://)([^/?#@]*@)?([^/?#]*).*$', '\1\3', 'i'),
                                  'reason', v_reason,
                                  'failingSince', to_char(v_endpoint.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))::text;
    INSERT INTO webhook_deliveries (endpoint_id, event_type, body)
    SELECT w.id, 'webhook.disabled', v_body
    FROM webhook_endpoints w
    WHERE w.enabled AND w.id <> v_endpoint.id AND 'webhook.disabled' = ANY (w.event_types);
    RETURN 'disabled';
END;
$$;

-- Webhook delivery (issue 19, decision 0034): a transactional outbox read from the event log.
--
-- Each endpoint keeps how far it has read `events` (`scan_position`): webhook_schedule() turns
-- the events after it, of the types the endpoint asked for, into `webhook_deliveries` rows (the
-- body fixed once, so every retry signs the same bytes) and moves the position, in one
-- transaction. A delivery is claimed with a lease (webhook_claim()), attempted over HTTP, and
-- its outcome written by webhook_record() only while the lease is still the claimer's: an event
-- committed is delivered at least once across crashes, and never by two processes at once.
ALTER TABLE webhook_endpoints
    ADD COLUMN scan_position bigint NOT NULL DEFAULT 0,
    -- The first failed attempt of the current streak (NULL: not failing) and the latest one:
    -- disabling is decided from them. A success ends a streak; so does a long quiet gap.
    ADD COLUMN failing_since timestamptz,
    ADD COLUMN last_failed_at timestamptz;
-- Endpoints made before this migration start at the current event: nothing old is sent.
UPDATE webhook_endpoints SET scan_position = (SELECT position FROM event_clock);

CREATE TABLE webhook_deliveries (
    id              uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    endpoint_id     uuid        NOT NULL REFERENCES webhook_endpoints (id) ON DELETE CASCADE,
    -- `webhook-id`: the same on every attempt and on a manual redelivery.
    message_id      text        NOT NULL DEFAULT 'msg_' || replace(gen_random_uuid()::text, '-', ''),
    event_pos       bigint,     -- the event delivered (NULL for webhook.disabled)
    event_type      text        NOT NULL,
    body            text        NOT NULL,
    status          text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'succeeded', 'failed')),
    attempts        integer     NOT NULL DEFAULT 0,
    -- Place in the retry schedule (a manual redelivery starts it again).
    retry_step      integer     NOT NULL DEFAULT 0,
    next_attempt_at timestamptz DEFAULT now(),
    -- Claimed until then by one process; its value is the claim's token.
    lease_until     timestamptz,
    last_attempt_at timestamptz,
    last_status     integer,
    last_error      text,
    last_latency_ms integer,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 1000);  -- migration 017
-- What falls due next, per endpoint, in the order it is claimed (a backlog of thousands is read
-- from its head, never sorted).
CREATE INDEX webhook_deliveries_due ON webhook_deliveries (endpoint_id, next_attempt_at, event_pos) WHERE status = 'pending';
-- The claims held: counted against an endpoint's cap on every claim.
CREATE INDEX webhook_deliveries_leased ON webhook_deliveries (endpoint_id, lease_until) WHERE lease_until IS NOT NULL;
CREATE INDEX webhook_deliveries_log ON webhook_deliveries (endpoint_id, created_at DESC, id DESC);
-- The maintenance job removes finished deliveries after 30 days.
CREATE INDEX webhook_deliveries_finished ON webhook_deliveries (updated_at) WHERE status <> 'pending';

CREATE TABLE webhook_attempts (
    delivery_id uuid        NOT NULL REFERENCES webhook_deliveries (id) ON DELETE CASCADE,
    attempt     integer     NOT NULL,
    started_at  timestamptz NOT NULL,
    status      integer,    -- the HTTP status (NULL: no response)
    latency_ms  integer     NOT NULL,
    error       text        CHECK (char_length(error) <= 1000),
    response    text        CHECK (char_length(response) <= 1000),
    PRIMARY KEY (delivery_id, attempt)
) WITH (autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 1000);

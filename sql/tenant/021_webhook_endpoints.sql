-- Outbound webhooks (issue 19, decision 0033): the endpoints a brokerage's integrations
-- register, each with the event types it wants and its signing secret (Standard Webhooks:
-- `whsec_` + base64 of the key). During a rotation the previous secret still signs, beside the
-- new one, until `previous_secret_expires_at`.
CREATE TABLE webhook_endpoints (
    id                         uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    url                        text        NOT NULL CHECK (char_length(url) BETWEEN 1 AND 2000),
    event_types                text[]      NOT NULL CHECK (cardinality(event_types) BETWEEN 1 AND 20),
    description                text        NOT NULL DEFAULT '' CHECK (char_length(description) <= 500),
    enabled                    boolean     NOT NULL DEFAULT true,
    -- Why it was disabled, when the delivery gave up on it (absent when disabled by hand).
    disabled_reason            text        CHECK (char_length(disabled_reason) <= 500),
    secret                     text        NOT NULL,
    previous_secret            text,
    previous_secret_expires_at timestamptz,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now()
) WITH (autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 1000);  -- migration 017

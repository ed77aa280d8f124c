-- The brokerages that have (or had) a webhook endpoint (issue 19, decision 0034): what every
-- server process's webhook deliverer reads to know where to look, instead of asking each of
-- thousands of brokerage schemas. Written when an endpoint is created (and by an import that
-- brings endpoints); gone with the brokerage.
CREATE TABLE parley.webhook_brokerages (
    tenant_id  uuid        PRIMARY KEY REFERENCES parley.tenants (id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now()
);

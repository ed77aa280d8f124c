-- Control plane: one row per brokerage (tenant) and its JWT signing secrets.
-- The schema `parley` and `parley.schema_migrations` are created by the migrator itself.

CREATE TABLE parley.tenants (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    slug          text        NOT NULL UNIQUE CHECK (slug ~ '^[a-z0-9_-]{2,40}$'),
    schema_name   text        NOT NULL UNIQUE CHECK (schema_name ~ '^t_[a-z0-9_]{2,40}$'),
    role_name     text        NOT NULL UNIQUE,
    display_name  text        NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    settings      jsonb       NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(settings) = 'object'),
    created_at    timestamptz NOT NULL DEFAULT now()
);

COMMENT ON TABLE parley.tenants IS 'Brokerages. Each owns schema schema_name through NOLOGIN role role_name.';

-- HS256 secrets a brokerage backend uses to mint user tokens. Several may be active at once
-- (rotation: old and new both verify until the old one is retired).
CREATE TABLE parley.tenant_signing_keys (
    kid         text        PRIMARY KEY CHECK (kid ~ '^[A-Za-z0-9_-]{8,64}$'),
    tenant_id   uuid        NOT NULL REFERENCES parley.tenants (id) ON DELETE CASCADE,
    secret      bytea       NOT NULL CHECK (length(secret) >= 32),
    created_at  timestamptz NOT NULL DEFAULT now(),
    retired_at  timestamptz
);

CREATE INDEX tenant_signing_keys_active ON parley.tenant_signing_keys (tenant_id, created_at DESC)
    WHERE retired_at IS NULL;

-- The key that seals typing indicators on their NOTIFY channel (docs/decisions/0029-sealed-typing.md).
-- Any role that can log in to the database — a brokerage's reporting login, say — may LISTEN on
-- any channel and NOTIFY on it; PostgreSQL has no privilege for either. Typing indicators name
-- users and sessions of every brokerage, so Parley seals them (AES-GCM) with this key, which
-- only Parley's own role can read: a listener learns nothing, and a forged one is dropped.
CREATE TABLE parley.live_key (
    singleton  boolean     PRIMARY KEY DEFAULT true CHECK (singleton),
    key        bytea       NOT NULL CHECK (length(key) = 32),
    created_at timestamptz NOT NULL DEFAULT now()
);
-- 32 bytes of three UUIDs from PostgreSQL's strong random source (gen_random_uuid: 122 random
-- bits each; the 32 bytes hold more than 240 of them).
INSERT INTO parley.live_key (key)
SELECT substring(decode(replace(gen_random_uuid()::text || gen_random_uuid()::text || gen_random_uuid()::text, '-', ''), 'hex') FROM 1 FOR 32);

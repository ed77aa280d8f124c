-- People of this brokerage that Parley has seen: agents and clients, keyed by the `sub` the
-- brokerage puts in their tokens. Runs with search_path = the tenant schema, as its role.

CREATE TABLE users (
    id            text        PRIMARY KEY CHECK (char_length(id) BETWEEN 1 AND 200),
    role          text        NOT NULL CHECK (role IN ('agent', 'client')),
    display_name  text        NOT NULL CHECK (char_length(display_name) BETWEEN 1 AND 200),
    created_at    timestamptz NOT NULL DEFAULT now(),
    updated_at    timestamptz NOT NULL DEFAULT now()
);

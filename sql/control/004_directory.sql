-- The agent directory (issue 16; docs/decisions/0027-agent-directory.md): one row per agent of
-- every brokerage, written by the brokerage's directory integration (server to server) and
-- read by agents of every brokerage. It lives in the control schema because it is searched
-- across brokerages; brokerage roles cannot read it. `record` holds the RESO Member fields the
-- integration sent (validated, in Parley's order), the columns beside it what search and the
-- filters need.
CREATE TABLE parley.directory_members (
    id            uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id     uuid        NOT NULL REFERENCES parley.tenants (id) ON DELETE CASCADE,
    member_key    text        NOT NULL CHECK (char_length(member_key) BETWEEN 1 AND 200),
    record        jsonb       NOT NULL CHECK (jsonb_typeof(record) = 'object'),
    full_name     text        NOT NULL CHECK (char_length(full_name) BETWEEN 1 AND 200),
    -- Unaccented and lower-cased once, by the statement that writes the record (prefix and
    -- typo search, the city filter). Not generated columns: public.parley_unaccent() is one of
    -- the control functions, created after the control migrations.
    search_name   text        NOT NULL,
    city_key      text,
    languages     text[]      NOT NULL DEFAULT '{}',
    designations  text[]      NOT NULL DEFAULT '{}',
    listed        boolean     GENERATED ALWAYS AS (coalesce((record ->> 'listed')::boolean, false)) STORED,
    modified_at   timestamptz NOT NULL,
    updated_at    timestamptz NOT NULL DEFAULT now(),
    UNIQUE (tenant_id, member_key)
);

CREATE INDEX directory_members_name ON parley.directory_members USING gin (search_name public.gin_trgm_ops) WHERE listed;
CREATE INDEX directory_members_sorted ON parley.directory_members (search_name, id) WHERE listed;
CREATE INDEX directory_members_city ON parley.directory_members (city_key, search_name, id) WHERE listed;
CREATE INDEX directory_members_modified ON parley.directory_members (tenant_id, modified_at, id);

COMMENT ON TABLE parley.directory_members IS 'The agent directory: RESO Member records of every brokerage; only listed ones are searchable.';

-- Filters without a name: walk one brokerage's listed agents by name; languages and
-- designations by their GIN entries when rare.
CREATE INDEX directory_members_brokerage ON parley.directory_members (tenant_id, search_name, id) WHERE listed;
CREATE INDEX directory_members_languages ON parley.directory_members USING gin (languages) WHERE listed;
CREATE INDEX directory_members_designations ON parley.directory_members USING gin (designations) WHERE listed;

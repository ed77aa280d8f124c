-- Search restricted to the caller's sessions without visiting the table (decision 0008).
--
-- A common word matches a large part of ALL messages, while a caller sees only their own
-- sessions. So the text vector is also carried in the (session_id, seq) index: matching the
-- caller's sessions is then an index-only scan of exactly their messages, and PostgreSQL picks
-- between that and the GIN index by how common the words are.
--
-- A btree entry must stay under ~2.7 kB, so only messages of up to 500 bytes of searchable text
-- (nearly all chat messages) carry their vector in `search`; longer ones carry it in
-- `search_long`, which has its own GIN index and a small partial index by session. Every message
-- has exactly one of the two.
DROP INDEX messages_search;
ALTER TABLE messages DROP COLUMN search;

ALTER TABLE messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (
        CASE WHEN octet_length(text) + octet_length(coalesce(listing ->> 'address', ''))
                  + octet_length(coalesce(listing ->> 'ListingId', '')) <= 500 THEN
            setweight(to_tsvector('public.parley_search', text), 'A')
            || setweight(to_tsvector('public.parley_search',
                                     coalesce(listing ->> 'address', '') || ' ' || coalesce(listing ->> 'ListingId', '')), 'B')
        END) STORED,
    ADD COLUMN search_long tsvector GENERATED ALWAYS AS (
        CASE WHEN octet_length(text) + octet_length(coalesce(listing ->> 'address', ''))
                  + octet_length(coalesce(listing ->> 'ListingId', '')) > 500 THEN
            setweight(to_tsvector('public.parley_search', text), 'A')
            || setweight(to_tsvector('public.parley_search',
                                     coalesce(listing ->> 'address', '') || ' ' || coalesce(listing ->> 'ListingId', '')), 'B')
        END) STORED;

CREATE INDEX messages_search ON messages USING gin (search);
CREATE INDEX messages_search_long ON messages USING gin (search_long);
CREATE INDEX messages_long_by_session ON messages (session_id) WHERE search_long IS NOT NULL;

-- The history index, now also carrying the vector (history reads stay range scans on it).
ALTER TABLE messages DROP CONSTRAINT messages_session_id_seq_key;
ALTER TABLE messages ADD CONSTRAINT messages_session_seq UNIQUE (session_id, seq) INCLUDE (search);

-- Names: unaccented and lower-cased once, when written, so matching never recomputes it.
DROP INDEX users_name_trgm;
ALTER TABLE users ADD COLUMN search_name text GENERATED ALWAYS AS (public.parley_unaccent(lower(display_name))) STORED;
CREATE INDEX users_search_name ON users USING gin (search_name public.gin_trgm_ops);

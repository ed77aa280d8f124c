-- Full-text search over message text and shared listings (address, ListingId), and trigram
-- search over people's names (docs: README "Search").
ALTER TABLE messages ADD COLUMN search tsvector GENERATED ALWAYS AS (
    setweight(to_tsvector('public.parley_search', text), 'A')
    || setweight(to_tsvector('public.parley_search',
                             coalesce(listing ->> 'address', '') || ' ' || coalesce(listing ->> 'ListingId', '')), 'B')
) STORED;

CREATE INDEX messages_search ON messages USING gin (search);
CREATE INDEX users_name_trgm ON users USING gin (public.parley_unaccent(lower(display_name)) public.gin_trgm_ops);

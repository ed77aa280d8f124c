-- The messages stored before message_search_vectors() indexed the parts of tokens joined by
-- punctuation (phone numbers, email and web addresses, dashed listing ids, decimals) get them
-- now, and their sessions the words: the same vectors the trigger writes for a new message.
--
-- Function files are applied after the migrations, so the trigger that would rewrite these
-- columns is still the previous one here: it is switched off for this statement, and the
-- vectors are computed as the new one computes them. Only messages with such a token are
-- written. Not where the vectors are still generated columns: on Citus (decision 0032), and in
-- a schema brought up from before decision 0037, whose function file (applied after this)
-- makes them plain columns — such a schema is being replayed from its first migration, with no
-- messages yet.
DO $$
DECLARE
    v_trigger boolean := EXISTS (SELECT 1 FROM pg_trigger WHERE tgrelid = 'messages'::regclass AND tgname = 'messages_search_vectors');
BEGIN
    IF current_setting('citus.version', true) IS NOT NULL
       OR (SELECT a.attgenerated <> '' FROM pg_attribute a WHERE a.attrelid = 'messages'::regclass AND a.attname = 'search') THEN
        RETURN;
    END IF;
    IF v_trigger THEN
        ALTER TABLE messages DISABLE TRIGGER messages_search_vectors;
    END IF;
    WITH parts AS (
        SELECT m.id, m.session_id, m.text, l.listing, p.parts
        FROM messages m
        CROSS JOIN LATERAL (SELECT coalesce(m.listing ->> 'address', '') || ' ' || coalesce(m.listing ->> 'ListingId', '') AS listing) AS l
        CROSS JOIN LATERAL (
            SELECT string_agg(regexp_replace(x[1], '[^[:alnum:]]+', ' ', 'g'), ' ') AS parts
            FROM regexp_matches(m.text || ' ' || l.listing, '[[:alnum:]]+(?:[^[:alnum:][:space:]]+[[:alnum:]]+)+', 'g') AS x) AS p
        WHERE p.parts IS NOT NULL
    ), vectors AS (
        SELECT id, session_id, setweight(to_tsvector('public.parley_search', text), 'A')
                               || setweight(to_tsvector('public.parley_search', listing), 'B')
                               || setweight(to_tsvector('public.parley_search', parts), 'D') AS v,
               octet_length(text) + octet_length(listing) + octet_length(parts) - 1 <= 500 AS short
        FROM parts
    ), written AS (
        UPDATE messages m SET search = CASE WHEN x.short THEN x.v END, search_long = CASE WHEN x.short THEN NULL ELSE x.v END
        FROM vectors x WHERE m.id = x.id
        RETURNING x.session_id, x.v
    )
    INSERT INTO session_terms (lexeme, session_id)
    SELECT DISTINCT w.lexeme, written.session_id FROM written, unnest(tsvector_to_array(written.v)) AS w (lexeme)
    ORDER BY 1, 2
    ON CONFLICT DO NOTHING;
    IF v_trigger THEN
        ALTER TABLE messages ENABLE TRIGGER messages_search_vectors;
    END IF;
END
$$;

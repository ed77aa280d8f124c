-- A message's text vectors (`search`, `search_long`, migration 006) are set by this BEFORE
-- trigger; they were generated columns until decision 0037.
--
-- PostgreSQL 15 reads a stored generated column's expression back from its catalog text
-- (stringToNode), plans and compiles it at the start of every statement that inserts a row:
-- ~390,000 instructions per send for these two expressions, whatever the text: about 15 % of a
-- whole send's work (Benchmarks/send-instructions.sh). A PL/pgSQL trigger keeps its compiled
-- expressions for the backend's life, so a send pays for the vectors themselves.
--
-- The values are the same: the same expressions, evaluated for every row inserted, and again
-- when its text or listing changes; a value written directly is replaced.
CREATE OR REPLACE FUNCTION message_search_vectors() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_listing text := coalesce(NEW.listing ->> 'address', '') || ' ' || coalesce(NEW.listing ->> 'ListingId', '');
    -- The parts of every token joined by punctuation (415-555-0134, maria@example.com, ML-81234,
    -- 2.5, www.zillow.com), as words: PostgreSQL's parser keeps such a token whole or signs its
    -- parts ('-0134'), while a query is split into runs of letters and digits (SearchQuery), so
    -- none of them was ever found. Only joined tokens: a message without one adds nothing.
    v_parts text := (SELECT string_agg(regexp_replace(m[1], '[^[:alnum:]]+', ' ', 'g'), ' ')
                     FROM regexp_matches(NEW.text || ' ' || v_listing, '[[:alnum:]]+(?:[^[:alnum:][:space:]]+[[:alnum:]]+)+', 'g') AS m);
BEGIN
    -- As the generated columns had it: messages of up to 500 bytes of searchable text carry
    -- their vector in `search` (which the (session_id, seq) index includes; a btree entry must
    -- stay under ~2.7 kB), longer ones in `search_long`. The vector goes into `search` first and
    -- moves for a long message only: a short one runs four statements, each a plan that every
    -- backend keeps per brokerage (decision 0046).
    NEW.search := setweight(to_tsvector('public.parley_search', NEW.text), 'A')
               || setweight(to_tsvector('public.parley_search', v_listing), 'B');
    IF v_parts IS NOT NULL THEN
        NEW.search := NEW.search || setweight(to_tsvector('public.parley_search', v_parts), 'D');
    END IF;
    -- The parts count toward the 500 bytes: the vector grows with them.
    IF octet_length(NEW.text) + octet_length(v_listing) + coalesce(octet_length(v_parts), 0) - 1 <= 500 THEN
        NEW.search_long := NULL;
    ELSE
        NEW.search_long := NEW.search;
        NEW.search := NULL;
    END IF;
    RETURN NEW;
END;
$$;

-- The columns lose their expressions here, not in a migration: function files are applied
-- after the migrations, in one transaction, so the expressions are dropped in the transaction
-- that installs the trigger and no message is written in between without its vectors.
-- `DROP EXPRESSION` keeps the stored vectors and rewrites nothing; once dropped, IF EXISTS
-- makes it a no-op when this file is applied again.
--
-- Not on Citus (decision 0032), which refuses `ALTER TABLE … DROP EXPRESSION` on a distributed
-- table: there the columns stay generated and this trigger is not installed.
--
-- With the expressions gone, `text` and `listing` take the domains of decision 0042 in place of
-- their table checks, if migration 023 could not change them yet (it found the expressions
-- there): the trigger, which names both columns, is dropped and created again around the change.
DO $$
BEGIN
    IF current_setting('citus.version', true) IS NULL THEN
        ALTER TABLE messages ALTER COLUMN search DROP EXPRESSION IF EXISTS, ALTER COLUMN search_long DROP EXPRESSION IF EXISTS;
        IF (SELECT a.atttypid FROM pg_attribute a WHERE a.attrelid = 'messages'::regclass AND a.attname = 'text')
           <> 'public.parley_message_text'::regtype THEN
            DROP TRIGGER IF EXISTS messages_search_vectors ON messages;
            ALTER TABLE messages
                DROP CONSTRAINT messages_text_check, ALTER COLUMN text TYPE public.parley_message_text,
                DROP CONSTRAINT messages_listing_check, ALTER COLUMN listing TYPE public.parley_listing;
        END IF;
        CREATE OR REPLACE TRIGGER messages_search_vectors BEFORE INSERT OR UPDATE OF text, listing, search, search_long ON messages
            FOR EACH ROW EXECUTE FUNCTION message_search_vectors();
    END IF;
END
$$;

-- Keeps session_terms (migrations 009 and 015, decisions 0008 and 0021): which words each
-- session's messages use. A trigger, so every way of inserting messages (send_message,
-- mirror_message, an import, any load by SQL) maintains it; a word the session already uses
-- costs an index probe and writes nothing.
--
-- A row trigger (decision 0036): as a statement trigger it read the new rows from a transition
-- table in two statements. Each word goes in with `ON CONFLICT DO NOTHING`, which finds a word
-- the session already has by probing the key, whatever the plan. A first version filtered
-- with `WHERE NOT EXISTS (…)` instead, to spare a new word its speculative-insertion record:
-- the backend keeps the trigger's plan, and planned while the brokerage's word table was
-- empty that `NOT EXISTS` became a hash of every row of the table, built again for each
-- message — a load of 20,000 messages in one statement took 118 s instead of 2 s, and the
-- sends of a young brokerage read its whole table until autovacuum's ANALYZE replaced the
-- plan. Words are inserted in key order, so two writers of one session wait, never deadlock.
--
-- Reading NEW, not a transition table, also keeps Citus from having to plan a query over a
-- transition table it cannot see (decision 0032).
CREATE OR REPLACE FUNCTION count_session_terms() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_terms (lexeme, session_id)
    SELECT w.lexeme, NEW.session_id
    FROM unnest(tsvector_to_array(coalesce(NEW.search, NEW.search_long))) AS w (lexeme)
    ORDER BY w.lexeme
    ON CONFLICT DO NOTHING;
    -- An AFTER trigger's result is ignored. `RETURN NEW` names a variable; `RETURN NULL` would
    -- be an expression, one more plan per backend and brokerage (decision 0046).
    RETURN NEW;
END;
$$;

DROP TRIGGER IF EXISTS messages_count_terms ON messages;
CREATE TRIGGER messages_count_terms AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION count_session_terms();

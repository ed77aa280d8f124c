-- Keeps session_terms (migrations 009 and 015, decisions 0008 and 0021): which words each
-- session's messages use. A statement-level trigger, so every way of inserting messages
-- (send_message, bulk loads) maintains it in one statement; a word the session already uses
-- costs an index probe and writes nothing. Ordered by key, so concurrent sends insert in
-- one order and never deadlock.
--
-- The new rows' words are read into arrays first and inserted from those: on Citus the trigger
-- runs on a worker, where a query that reads the transition table and writes a table of the
-- brokerage is planned by Citus, which cannot see the transition table (decision 0032).
CREATE OR REPLACE FUNCTION count_session_terms() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_lexemes text[];
    v_sessions uuid[];
BEGIN
    SELECT array_agg(w.lexeme ORDER BY w.lexeme, w.session_id), array_agg(w.session_id ORDER BY w.lexeme, w.session_id)
    INTO v_lexemes, v_sessions
    FROM (SELECT DISTINCT t.lexeme, m.session_id
          FROM new_messages AS m CROSS JOIN LATERAL unnest(coalesce(m.search, m.search_long)) AS t) AS w;
    IF v_lexemes IS NOT NULL THEN
        INSERT INTO session_terms (lexeme, session_id)
        SELECT w.lexeme, w.session_id FROM unnest(v_lexemes, v_sessions) AS w (lexeme, session_id)
        ORDER BY w.lexeme, w.session_id
        ON CONFLICT (lexeme, session_id) DO NOTHING;
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER messages_count_terms AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION count_session_terms();

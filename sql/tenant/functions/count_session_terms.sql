-- Keeps session_terms (migrations 009 and 015, decisions 0008 and 0021): which words each
-- session's messages use. A statement-level trigger, so every way of inserting messages
-- (send_message, bulk loads) maintains it in one statement; a word the session already uses
-- costs an index probe and writes nothing. Ordered by key, so concurrent sends insert in
-- one order and never deadlock.
CREATE OR REPLACE FUNCTION count_session_terms() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_terms (lexeme, session_id)
    SELECT DISTINCT t.lexeme, m.session_id
    FROM new_messages AS m CROSS JOIN LATERAL unnest(coalesce(m.search, m.search_long)) AS t
    ORDER BY t.lexeme, m.session_id
    ON CONFLICT (lexeme, session_id) DO NOTHING;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER messages_count_terms AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION count_session_terms();

-- Keeps session_terms (migration 009, decision 0008): per session and lexeme, how many
-- messages contain it. A statement-level trigger, so every way of inserting messages
-- (send_message, bulk loads) maintains it in one statement.
CREATE OR REPLACE FUNCTION count_session_terms() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_terms (lexeme, session_id, n)
    SELECT t.lexeme, m.session_id, count(*)::integer
    FROM new_messages AS m CROSS JOIN LATERAL unnest(coalesce(m.search, m.search_long)) AS t
    GROUP BY t.lexeme, m.session_id
    ORDER BY t.lexeme, m.session_id
    ON CONFLICT (lexeme, session_id) DO UPDATE SET n = session_terms.n + EXCLUDED.n;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER messages_count_terms AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION count_session_terms();

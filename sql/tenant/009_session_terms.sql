-- Per-session term counts (decision 0008, second part). For a one-word search — the common case,
-- and every keystroke while typing — matching sessions are found and ordered from these rows
-- (one per session and word) instead of from every message of the caller's sessions.
--
-- n = how many messages of the session contain the lexeme. Kept by a statement-level trigger,
-- so every way of inserting messages (send_message, bulk loads) maintains it in one statement.
CREATE TABLE session_terms (
    session_id  uuid    NOT NULL,
    lexeme      text    COLLATE "C" NOT NULL,
    n           integer NOT NULL CHECK (n > 0),
    PRIMARY KEY (session_id, lexeme)
);

CREATE FUNCTION count_session_terms() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_terms (session_id, lexeme, n)
    SELECT m.session_id, t.lexeme, count(*)::integer
    FROM new_messages AS m CROSS JOIN LATERAL unnest(coalesce(m.search, m.search_long)) AS t
    GROUP BY m.session_id, t.lexeme
    ORDER BY m.session_id, t.lexeme
    ON CONFLICT (session_id, lexeme) DO UPDATE SET n = session_terms.n + EXCLUDED.n;
    RETURN NULL;
END;
$$;

CREATE TRIGGER messages_count_terms AFTER INSERT ON messages
    REFERENCING NEW TABLE AS new_messages
    FOR EACH STATEMENT EXECUTE FUNCTION count_session_terms();

INSERT INTO session_terms (session_id, lexeme, n)
SELECT m.session_id, t.lexeme, count(*)::integer
FROM messages AS m CROSS JOIN LATERAL unnest(coalesce(m.search, m.search_long)) AS t
GROUP BY m.session_id, t.lexeme;

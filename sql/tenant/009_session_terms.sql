-- Per-session term counts (decision 0008, second part). For a one-word search — the common case,
-- and every keystroke while typing — matching sessions are found and ordered from these rows
-- (one per session and word) instead of from every message of the caller's sessions.
--
-- n = how many messages of the session contain the lexeme. Kept by a statement-level trigger,
-- so every way of inserting messages (send_message, bulk loads) maintains it in one statement.
-- The key leads with the lexeme (C collation, so a prefix is a range) and carries n: a search
-- reads one contiguous range of the index — one entry per session using the word — and joins
-- it to the caller's sessions, without visiting the table.
CREATE TABLE session_terms (
    lexeme      text    COLLATE "C" NOT NULL,
    session_id  uuid    NOT NULL,
    n           integer NOT NULL CHECK (n > 0),
    PRIMARY KEY (lexeme, session_id) INCLUDE (n)
);

-- The trigger that keeps it, count_session_terms(): sql/tenant/functions/count_session_terms.sql.

INSERT INTO session_terms (lexeme, session_id, n)
SELECT t.lexeme, m.session_id, count(*)::integer
FROM messages AS m CROSS JOIN LATERAL unnest(coalesce(m.search, m.search_long)) AS t
GROUP BY t.lexeme, m.session_id;

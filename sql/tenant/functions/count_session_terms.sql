-- Keeps session_terms (migrations 009 and 015, decisions 0008 and 0021): which words each
-- session's messages use. A trigger, so every way of inserting messages (send_message,
-- mirror_message, bulk loads) maintains it; a word the session already uses costs an index
-- probe and writes nothing.
--
-- A row trigger with a plain INSERT of the words the session does not use yet (decision 0036):
-- as a statement trigger it read the new rows from a transition table in two statements, and
-- `ON CONFLICT DO NOTHING` made every new word a speculative insertion (an index probe, the
-- heap tuple, the index entry, then a confirmation record: three WAL records a word, ten words
-- a send). The plain INSERT relies on one writer at a time per session: send_message() and
-- mirror_message() hold the session's advisory lock to commit before they insert. A writer
-- that does not (a bulk load, a hand-written INSERT) and meets a concurrent send of the same
-- session adding the same word fails on the key and can be retried; it never leaves a word
-- out. (The trigger does not take the lock itself: a load of messages of thousands of sessions
-- in one transaction would hold thousands of locks.) Words are inserted in key order.
--
-- Reading NEW, not a transition table, also keeps Citus from having to plan a query over a
-- transition table it cannot see (decision 0032).
CREATE OR REPLACE FUNCTION count_session_terms() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO session_terms (lexeme, session_id)
    SELECT w.lexeme, NEW.session_id
    FROM unnest(tsvector_to_array(coalesce(NEW.search, NEW.search_long))) AS w (lexeme)
    WHERE NOT EXISTS (SELECT 1 FROM session_terms st WHERE st.lexeme = w.lexeme AND st.session_id = NEW.session_id)
    ORDER BY w.lexeme;
    RETURN NULL;
END;
$$;

DROP TRIGGER IF EXISTS messages_count_terms ON messages;
CREATE TRIGGER messages_count_terms AFTER INSERT ON messages
    FOR EACH ROW EXECUTE FUNCTION count_session_terms();

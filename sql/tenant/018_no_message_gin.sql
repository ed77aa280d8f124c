-- No GIN index on the messages' text vectors: nothing reads them any more, and every send paid
-- for an entry (issue 15, point 1; decision 0021).
--
-- Search finds a word's sessions in `session_terms` and checks a session's messages on the
-- history index's entries, `(session_id, seq) INCLUDE (search)`; the snippets are ranked on the
-- same entries. Planned with `@@`, those checks could still turn into a bitmap over the GIN
-- entries of every message of the brokerage holding the word (400,000 for a common word at
-- PostgreSQL's default random_page_cost: 64 ms); they are written with ts_match_vq(), which no
-- index serves, so the GIN indexes went unused and only cost the writer.
DROP INDEX IF EXISTS messages_search;
DROP INDEX IF EXISTS messages_search_long;

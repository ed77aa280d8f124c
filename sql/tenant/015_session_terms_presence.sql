-- session_terms records which words a session uses, no longer how often (decision 0021).
-- Search lists matching sessions newest activity first, so nothing reads the counts; keeping
-- them made every later use of a word in a session an update of its row and index entry.
-- Now a word's first use in a session inserts one row and every later use writes nothing.
-- The trigger's new body: functions/count_session_terms.sql.
ALTER TABLE session_terms DROP CONSTRAINT session_terms_pkey;
ALTER TABLE session_terms DROP COLUMN n;
ALTER TABLE session_terms ADD PRIMARY KEY (lexeme, session_id);

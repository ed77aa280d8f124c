-- Archiving is each member's own (decision 0061): "Archive – hide it from your main list".
-- It was the session's status, so an agent's archive hid the conversation from the client's
-- list and badge too, and the agent's later messages then reached a client who had no sign of
-- them. Now a member's `archived_at` hides the session from that member's list and badge only;
-- `sessions.status` is `active` or `closed` for everyone. Sessions archived the old way are
-- converted by convert_archived_sessions() (a function file, run whenever it is applied and
-- after an import of an older export); until then, and for any row an older process writes,
-- `archived` counts as `active` everywhere. (Rewritten on 2026-12-05: the conversion was here
-- first; Migrations.rewritten.)
ALTER TABLE session_members ADD COLUMN archived_at timestamptz;

-- report_session_closures: one row per close of a session of this brokerage's copy, and its
-- reopening if it was reopened (docs/REPORTING.md). A session closed twice has two rows.
DROP VIEW IF EXISTS report_session_closures CASCADE;
CREATE VIEW report_session_closures AS
SELECT c.session_id,
       c.closed_at,
       c.closed_by,
       c.reopened_at,
       c.reopened_by
FROM session_closures c;

-- report_agent_daily: per agent of this brokerage and UTC day, what they did
-- (docs/REPORTING.md). `day` is a date; `time` is its start as a timestamptz (UTC midnight), the
-- column Grafana's time-series queries expect. Days without activity have no row.
DROP VIEW IF EXISTS report_agent_daily CASCADE;
CREATE VIEW report_agent_daily AS
WITH activity AS (
    SELECT e.sender_id AS agent_id, (e.created_at AT TIME ZONE 'UTC')::date AS day,
           1 AS messages_sent, 0 AS sessions_created, 0 AS sessions_closed,
           0 AS requests_received, 0 AS requests_accepted, 0 AS requests_declined
    FROM messages e JOIN users u ON u.id = e.sender_id AND u.role = 'agent' AND u.brokerage IS NULL
    UNION ALL
    SELECT s.created_by, (s.created_at AT TIME ZONE 'UTC')::date, 0, 1, 0, 0, 0, 0
    FROM sessions s JOIN users u ON u.id = s.created_by AND u.role = 'agent' AND u.brokerage IS NULL
    UNION ALL
    -- Every close by an agent of this brokerage, on its day, reopened since or not: the other
    -- agent of a shared session closes both copies (decision 0061), and is no agent of this one.
    SELECT c.closed_by, (c.closed_at AT TIME ZONE 'UTC')::date, 0, 0, 1, 0, 0, 0
    FROM session_closures c JOIN users u ON u.id = c.closed_by AND u.role = 'agent' AND u.brokerage IS NULL
    UNION ALL
    SELECT r.agent_id, (r.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 1, 0, 0 FROM chat_requests r
    UNION ALL
    SELECT r.agent_id, (r.decided_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0,
           (r.status = 'accepted')::int, (r.status = 'declined')::int
    FROM chat_requests r WHERE r.status IN ('accepted', 'declined')
)
SELECT agent_id,
       day,
       day::timestamp AT TIME ZONE 'UTC' AS time,
       sum(messages_sent)::bigint AS messages_sent,
       sum(sessions_created)::bigint AS sessions_created,
       sum(sessions_closed)::bigint AS sessions_closed,
       sum(requests_received)::bigint AS requests_received,
       sum(requests_accepted)::bigint AS requests_accepted,
       sum(requests_declined)::bigint AS requests_declined
FROM activity
GROUP BY agent_id, day;

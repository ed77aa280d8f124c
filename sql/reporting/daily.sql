-- report_daily: the brokerage's activity per UTC day, a Grafana-friendly series
-- (docs/REPORTING.md): `time` (UTC midnight, timestamptz) and one number per column. Days
-- without activity have no row.
DROP VIEW IF EXISTS report_daily CASCADE;
CREATE VIEW report_daily AS
WITH activity AS (
    SELECT (e.created_at AT TIME ZONE 'UTC')::date AS day, 1 AS messages, 0 AS sessions_created, 0 AS sessions_closed,
           0 AS requests_received, 0 AS requests_accepted, 0 AS requests_declined, 0 AS requests_expired,
           NULL::double precision AS first_response_seconds
    FROM messages e
    UNION ALL
    -- The first response averaged is a client's wait for an agent: agent-to-agent
    -- conversations count as sessions started, not in the average.
    SELECT (c.started_at AT TIME ZONE 'UTC')::date, 0, 1, 0, 0, 0, 0, 0, CASE WHEN c.kind = 'client' THEN c.first_response_seconds END
    FROM report_conversations c
    UNION ALL
    -- Every close, on its day, reopened since or not (report_session_closures).
    SELECT (c.closed_at AT TIME ZONE 'UTC')::date, 0, 0, 1, 0, 0, 0, 0, NULL FROM session_closures c
    UNION ALL
    SELECT (r.created_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 1, 0, 0, 0, NULL FROM chat_requests r
    UNION ALL
    SELECT (r.decided_at AT TIME ZONE 'UTC')::date, 0, 0, 0, 0, (r.status = 'accepted')::int, (r.status = 'declined')::int,
           (r.status = 'expired')::int, NULL
    FROM chat_requests r WHERE r.status IN ('accepted', 'declined', 'expired')
)
SELECT day::timestamp AT TIME ZONE 'UTC' AS time,
       day,
       sum(messages)::bigint AS messages,
       sum(sessions_created)::bigint AS sessions_started,
       sum(sessions_closed)::bigint AS sessions_closed,
       sum(requests_received)::bigint AS requests_received,
       sum(requests_accepted)::bigint AS requests_accepted,
       sum(requests_declined)::bigint AS requests_declined,
       sum(requests_expired)::bigint AS requests_expired,
       avg(first_response_seconds) AS avg_first_response_seconds
FROM activity
GROUP BY day;

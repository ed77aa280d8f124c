-- report_conversations: the three conversation times, as Chatwoot defines them, per session
-- (docs/REPORTING.md). Seconds, fractional.
--
--   started_at            the chat request's creation for a session opened by accepting one,
--                         otherwise the session's creation
--   first_response_at     client sessions: the first message of an agent; agent-to-agent
--                         sessions: the first message of someone other than the one who wrote
--                         message 1
--   first_response_seconds  first_response_at - started_at
--   resolution_seconds    closed_at - started_at, while the session is closed
DROP VIEW IF EXISTS report_conversations CASCADE;
CREATE VIEW report_conversations AS
SELECT s.id AS session_id,
       s.kind,
       s.status,
       coalesce(r.created_at, s.created_at) AS started_at,
       fr.sent_at AS first_response_at,
       fr.sender_id AS first_responder,
       extract(epoch FROM fr.sent_at - coalesce(r.created_at, s.created_at))::float8 AS first_response_seconds,
       CASE WHEN s.status = 'closed' THEN s.status_changed_at END AS closed_at,
       CASE WHEN s.status = 'closed' THEN extract(epoch FROM s.status_changed_at - coalesce(r.created_at, s.created_at))::float8 END AS resolution_seconds
FROM sessions s
LEFT JOIN chat_requests r ON r.session_id = s.id
LEFT JOIN LATERAL (
    SELECT e.created_at AS sent_at, e.sender_id
    FROM messages e JOIN users u ON u.id = e.sender_id
    WHERE e.session_id = s.id
      AND CASE WHEN s.kind = 'client' THEN u.role = 'agent'
               ELSE e.sender_id <> (SELECT f.sender_id FROM messages f WHERE f.session_id = s.id ORDER BY f.seq LIMIT 1) END
    ORDER BY e.seq LIMIT 1
) AS fr ON true;

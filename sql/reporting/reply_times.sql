-- report_reply_times: Chatwoot's reply time (docs/REPORTING.md). One row per turn of a client
-- in a client session — a client message that follows an agent's (or opens the session) — with
-- the agent's next message: reply_seconds = replied_at - client_sent_at. A turn nobody has
-- answered yet has no reply (NULLs).
DROP VIEW IF EXISTS report_reply_times CASCADE;
CREATE VIEW report_reply_times AS
WITH ordered AS (
    SELECT e.session_id, e.seq, e.sender_id, e.created_at, u.role,
           lag(u.role) OVER (PARTITION BY e.session_id ORDER BY e.seq) AS previous_role
    FROM messages e
    JOIN users u ON u.id = e.sender_id
    JOIN sessions s ON s.id = e.session_id AND s.kind = 'client'
)
SELECT t.session_id,
       t.seq AS client_seq,
       t.sender_id AS client_id,
       t.created_at AS client_sent_at,
       reply.seq AS reply_seq,
       reply.sender_id AS agent_id,
       reply.created_at AS replied_at,
       extract(epoch FROM reply.created_at - t.created_at)::float8 AS reply_seconds
FROM ordered t
LEFT JOIN LATERAL (
    SELECT e.seq, e.sender_id, e.created_at FROM messages e JOIN users u ON u.id = e.sender_id
    WHERE e.session_id = t.session_id AND e.seq > t.seq AND u.role = 'agent'
    ORDER BY e.seq LIMIT 1
) AS reply ON true
WHERE t.role = 'client' AND t.previous_role IS DISTINCT FROM 'client';

-- report_sessions: one row per session of this brokerage's copy (docs/REPORTING.md).
-- Reporting views are read by the brokerage's reporting role (`parley tenant reporting-role`),
-- which can read nothing else; they run with the rights of the brokerage's role that owns them.
-- Timestamps are timestamptz; the reporting role's TimeZone is UTC.
DROP VIEW IF EXISTS report_sessions CASCADE;
CREATE VIEW report_sessions AS
SELECT s.id AS session_id,
       s.kind,
       s.kind = 'agent' AS agent_to_agent,
       -- `archived` of an older release is active (convert_archived_sessions()).
       CASE WHEN s.status = 'closed' THEN 'closed' ELSE 'active' END AS status,
       s.created_by,
       ARRAY(SELECT m.user_id FROM session_members m WHERE m.session_id = s.id ORDER BY m.joined_at, m.user_id) AS participants,
       ARRAY(SELECT m.user_id FROM session_members m WHERE m.session_id = s.id AND m.role = 'agent' ORDER BY m.joined_at, m.user_id) AS agents,
       ARRAY(SELECT m.user_id FROM session_members m WHERE m.session_id = s.id AND m.role = 'client' ORDER BY m.joined_at, m.user_id) AS clients,
       s.contact_id,
       r.id AS chat_request_id,
       s.peers AS shared_with,
       s.created_at,
       CASE WHEN s.status = 'closed' THEN s.status_changed_at END AS closed_at,
       -- Archiving is each member's own (decision 0061): who has it archived now.
       ARRAY(SELECT m.user_id FROM session_members m WHERE m.session_id = s.id AND m.archived_at IS NOT NULL ORDER BY m.archived_at, m.user_id) AS archived_by,
       s.last_message_at,
       (SELECT count(*) FROM messages e WHERE e.session_id = s.id) AS message_count,
       (SELECT count(*) FROM messages e JOIN users u ON u.id = e.sender_id WHERE e.session_id = s.id AND u.role = 'agent') AS agent_message_count,
       (SELECT count(*) FROM messages e JOIN users u ON u.id = e.sender_id WHERE e.session_id = s.id AND u.role = 'client') AS client_message_count
FROM sessions s
LEFT JOIN chat_requests r ON r.session_id = s.id;

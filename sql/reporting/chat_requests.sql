-- report_chat_requests: one row per chat request an agent of this brokerage received, from a
-- website or from another agent (docs/REPORTING.md). No names, contact points, message text
-- or decline notes: what the visitor typed stays with the agent.
DROP VIEW IF EXISTS report_chat_requests CASCADE;
CREATE VIEW report_chat_requests AS
SELECT r.id AS request_id,
       r.source,
       r.agent_id,
       r.status,
       r.created_at,
       r.decided_at,
       r.decided_by,
       CASE WHEN r.status IN ('accepted', 'declined') THEN extract(epoch FROM r.decided_at - r.created_at)::float8 END AS decision_seconds,
       r.session_id,
       r.contact_id IS NOT NULL AS converted_to_crm,
       r.contact_id,
       r.message <> '' AS has_message,
       coalesce(r.property ->> 'ListingKey', r.property ->> 'ListingId') AS listing_key,
       r.preferred_contact_method,
       r.origin,
       r.requester_brokerage,
       r.requester_key
FROM chat_requests r;

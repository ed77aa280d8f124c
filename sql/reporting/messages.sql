-- report_messages: one row per message, without its text (docs/REPORTING.md).
DROP VIEW IF EXISTS report_messages CASCADE;
CREATE VIEW report_messages AS
SELECT e.id AS message_id,
       e.session_id,
       e.seq,
       e.sender_id,
       u.role AS sender_role,
       u.brokerage AS sender_brokerage,
       e.created_at AS sent_at,
       (SELECT count(*) FROM attachments a WHERE a.message_id = e.id) AS attachment_count,
       e.listing IS NOT NULL AS has_listing,
       coalesce(e.listing ->> 'ListingKey', e.listing ->> 'ListingId') AS listing_key
FROM messages e
JOIN users u ON u.id = e.sender_id;

-- Storage quotas (docs/decisions/0017-storage-quotas.md). One row: the bytes of every
-- attachment row of the brokerage (uploading, ready or being deleted), kept equal to
-- sum(attachments.size) by the trigger in functions/track_attachment_bytes.sql. An upload reserves
-- its bytes here (reserve_attachment_bytes) before it stores them.
CREATE TABLE storage_usage (
    singleton        boolean PRIMARY KEY DEFAULT true CHECK (singleton),
    attachment_bytes bigint  NOT NULL
);
INSERT INTO storage_usage (attachment_bytes) SELECT coalesce(sum(size), 0) FROM attachments;

-- A user's unsent uploads (the per-user quota): few rows per user, found without a scan.
CREATE INDEX attachments_unsent_by_uploader ON attachments (uploader_id) WHERE message_id IS NULL;

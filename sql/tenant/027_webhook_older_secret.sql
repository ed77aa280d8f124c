-- A second rotation during the first one's overlap: the first's old secret keeps signing until
-- the end it was given (older_secret), beside the second's (previous_secret), so a receiver
-- still verifying with either loses nothing. A third rotation during both overlaps retires the
-- oldest early (docs/WEBHOOKS.md).
ALTER TABLE webhook_endpoints ADD COLUMN older_secret text, ADD COLUMN older_secret_expires_at timestamptz;

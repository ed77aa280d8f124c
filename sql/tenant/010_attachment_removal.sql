-- Removing unused uploads without orphans (decision 0009): the sweep first marks its rows
-- 'deleting' (a send can no longer use them), then deletes their bytes, then the rows. A crash
-- at any point leaves rows the next sweep finishes; bytes are never left without a row.
ALTER TABLE attachments DROP CONSTRAINT attachments_state_check;
ALTER TABLE attachments ADD CONSTRAINT attachments_state_check CHECK (state IN ('uploading', 'ready', 'deleting'));

-- File attachments (docs/decisions/0009-attachments.md).
--
-- An upload is a row in `attachments` (state 'uploading' until its last byte is stored and its
-- type checked, then 'ready') and its bytes in `blob_chunks` (256 KiB per row; the BlobStore
-- protocol in Swift is the seam for another store). A ready attachment is used by at most one
-- message of its own session, by its uploader; unused ones are removed after 24 hours.
CREATE TABLE attachments (
    id           uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id   uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    uploader_id  text        NOT NULL REFERENCES users (id),
    state        text        NOT NULL DEFAULT 'uploading' CHECK (state IN ('uploading', 'ready')),
    file_name    text        NOT NULL CHECK (char_length(file_name) BETWEEN 1 AND 255),
    media_type   text        NOT NULL DEFAULT 'application/octet-stream',
    size         bigint      NOT NULL DEFAULT 0 CHECK (size >= 0),
    sha256       text        CHECK (sha256 ~ '^[0-9a-f]{64}$'),
    width        integer     CHECK (width > 0),
    height       integer     CHECK (height > 0),
    message_id   uuid        REFERENCES messages (id) ON DELETE CASCADE,
    position     smallint    CHECK (position BETWEEN 1 AND 100),
    created_at   timestamptz NOT NULL DEFAULT now(),
    CHECK (message_id IS NULL OR (state = 'ready' AND position IS NOT NULL))
);
CREATE INDEX attachments_message ON attachments (message_id, position) WHERE message_id IS NOT NULL;
CREATE INDEX attachments_unused ON attachments (created_at) WHERE message_id IS NULL;

CREATE TABLE blob_chunks (
    blob_id  uuid    NOT NULL,
    n        integer NOT NULL CHECK (n >= 0),
    data     bytea   NOT NULL,
    PRIMARY KEY (blob_id, n)
);
-- Uploads are mostly compressed formats already: store without trying to compress, which also
-- lets substring() read a byte range without detoasting the whole chunk.
ALTER TABLE blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

-- A message may now be attachments only.
ALTER TABLE messages DROP CONSTRAINT messages_text_check;
ALTER TABLE messages ADD CONSTRAINT messages_text_check CHECK (char_length(text) <= 10000);

-- message_attachments() and send_message() with attachments: sql/tenant/functions/.

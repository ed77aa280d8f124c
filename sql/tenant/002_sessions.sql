-- Chat sessions, their members, messages and contacts (the "Chat Sessions" half of the product).
-- Runs with search_path = the tenant schema, as the tenant's role.

-- The people an agent messages ("people you message get added to your contacts").
-- Field names follow RESO Contacts where one exists (see the API's Contact object).
CREATE TABLE contacts (
    id                        uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    owner_member_key          text        NOT NULL REFERENCES users (id),
    user_id                   text        REFERENCES users (id),
    first_name                text        CHECK (char_length(first_name) <= 100),
    last_name                 text        CHECK (char_length(last_name) <= 100),
    full_name                 text        NOT NULL CHECK (char_length(full_name) BETWEEN 1 AND 200),
    email                     text        CHECK (char_length(email) <= 254),
    email_key                 text        GENERATED ALWAYS AS (lower(email)) STORED,
    mobile_phone              text        CHECK (mobile_phone ~ '^\+[1-9][0-9]{6,14}$'),
    preferred_phone           text        CHECK (preferred_phone ~ '^\+[1-9][0-9]{6,14}$'),
    lead_source               text        CHECK (char_length(lead_source) <= 100),
    notes                     text        CHECK (char_length(notes) <= 5000),
    preferred_contact_method  text        CHECK (preferred_contact_method IN ('email', 'phone', 'text', 'chat')),
    created_at                timestamptz NOT NULL DEFAULT now(),
    updated_at                timestamptz NOT NULL DEFAULT now()
);

-- Dedupe: one contact per owner per email (case-insensitive) and per normalized phone.
CREATE UNIQUE INDEX contacts_owner_email ON contacts (owner_member_key, email_key) WHERE email_key IS NOT NULL;
CREATE UNIQUE INDEX contacts_owner_mobile ON contacts (owner_member_key, mobile_phone) WHERE mobile_phone IS NOT NULL;
CREATE INDEX contacts_owner_name ON contacts (owner_member_key, lower(full_name) text_pattern_ops, id);
CREATE INDEX contacts_user ON contacts (user_id) WHERE user_id IS NOT NULL;

CREATE TABLE sessions (
    id                    uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    kind                  text        NOT NULL CHECK (kind IN ('client', 'agent')),
    status                text        NOT NULL DEFAULT 'active' CHECK (status IN ('active', 'closed', 'archived')),
    created_by            text        NOT NULL REFERENCES users (id),
    contact_id            uuid        REFERENCES contacts (id) ON DELETE SET NULL,
    -- Per-session message sequence: the last seq handed out (messages.seq is 1, 2, 3, …).
    last_seq              bigint      NOT NULL DEFAULT 0,
    last_message_at       timestamptz,
    last_message_preview  text,
    last_sender_id        text,
    last_activity_at      timestamptz NOT NULL DEFAULT now(),
    status_changed_by     text,
    status_changed_at     timestamptz,
    created_at            timestamptz NOT NULL DEFAULT now(),
    CHECK ((kind = 'client') OR contact_id IS NULL)
);

CREATE TABLE session_members (
    session_id     uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    user_id        text        NOT NULL REFERENCES users (id),
    role           text        NOT NULL CHECK (role IN ('agent', 'client')),
    -- Read receipt: every message with seq <= last_read_seq has been read by this member.
    -- Only ever raised (GREATEST), so receipts never move backwards.
    last_read_seq  bigint      NOT NULL DEFAULT 0 CHECK (last_read_seq >= 0),
    -- "Mark as unread": shown unread until the member reads again; receipts stay as they are.
    marked_unread  boolean     NOT NULL DEFAULT false,
    joined_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (session_id, user_id)
);

-- A member's session list: by member, then newest activity (the sort lives on sessions).
CREATE INDEX session_members_user ON session_members (user_id, session_id);
CREATE INDEX sessions_activity ON sessions (last_activity_at DESC, id DESC);

CREATE TABLE messages (
    id                 uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    session_id         uuid        NOT NULL REFERENCES sessions (id) ON DELETE CASCADE,
    seq                bigint      NOT NULL CHECK (seq > 0),
    sender_id          text        NOT NULL REFERENCES users (id),
    -- The sender's idempotency key: a retry with the same key returns the same message.
    client_message_id  text        NOT NULL CHECK (char_length(client_message_id) BETWEEN 1 AND 100),
    text               text        NOT NULL CHECK (char_length(text) BETWEEN 1 AND 10000),
    -- A shared listing: RESO identifiers plus a display snapshot, as validated by the API.
    listing            jsonb       CHECK (listing IS NULL OR jsonb_typeof(listing) = 'object'),
    created_at         timestamptz NOT NULL DEFAULT now(),
    UNIQUE (session_id, seq),
    UNIQUE (session_id, sender_id, client_message_id)
);

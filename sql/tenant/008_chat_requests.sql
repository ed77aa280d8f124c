-- Chat requests from public websites (docs/decisions/0010-chat-requests.md).
--
-- A visitor submits a request to an agent; the agent accepts (a client session with the
-- visitor, whose message becomes the first message), declines (with notes only the decider
-- sees), or lets it expire (tenant TTL, swept by the Maintenance service). A decision locks the
-- row (SELECT … FOR UPDATE) and acts only on a pending, unexpired request; the sweeper's UPDATE
-- acts only on pending rows (SKIP LOCKED): concurrent accept / decline / expire have exactly one
-- winner. Convert-to-CRM works in every status.
CREATE TABLE chat_requests (
    id                        uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id                  text        NOT NULL CHECK (char_length(agent_id) BETWEEN 1 AND 200),
    visitor_id                text        NOT NULL UNIQUE,
    name                      text        NOT NULL CHECK (char_length(name) BETWEEN 1 AND 200),
    email                     text        CHECK (email IS NULL OR char_length(email) <= 254),
    phone                     text        CHECK (phone IS NULL OR phone ~ '^\+[1-9][0-9]{6,14}$'),
    message                   text        NOT NULL DEFAULT '' CHECK (char_length(message) <= 5000),
    property                  jsonb       CHECK (property IS NULL OR jsonb_typeof(property) = 'object'),
    preferred_contact_method  text        NOT NULL CHECK (preferred_contact_method IN ('email', 'phone', 'text', 'chat')),
    status                    text        NOT NULL DEFAULT 'pending'
                                          CHECK (status IN ('pending', 'accepted', 'declined', 'expired')),
    decided_by                text,
    decided_at                timestamptz,
    decline_notes             text        CHECK (decline_notes IS NULL OR char_length(decline_notes) <= 5000),
    session_id                uuid        REFERENCES sessions (id),
    contact_id                uuid        REFERENCES contacts (id),
    origin                    text,
    created_at                timestamptz NOT NULL DEFAULT now(),
    CHECK (email IS NOT NULL OR phone IS NOT NULL),
    CHECK ((status = 'accepted') = (session_id IS NOT NULL)),
    CHECK (status <> 'declined' OR decided_by IS NOT NULL),
    CHECK (decline_notes IS NULL OR status = 'declined')
);

-- "The same email + agent resubmitting while a request is pending returns that request."
CREATE UNIQUE INDEX chat_requests_pending_email ON chat_requests (agent_id, lower(email))
    WHERE status = 'pending' AND email IS NOT NULL;
CREATE UNIQUE INDEX chat_requests_pending_phone ON chat_requests (agent_id, phone)
    WHERE status = 'pending' AND email IS NULL;
CREATE INDEX chat_requests_agent ON chat_requests (agent_id, status, created_at DESC, id DESC);
CREATE INDEX chat_requests_pending_age ON chat_requests (created_at) WHERE status = 'pending';

-- Listings a contact showed interest in (the property of a converted chat request).
CREATE TABLE contact_listings (
    contact_id  uuid        NOT NULL REFERENCES contacts (id) ON DELETE CASCADE,
    listing_key text        NOT NULL,
    listing     jsonb       NOT NULL CHECK (jsonb_typeof(listing) = 'object'),
    source      text        NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (contact_id, listing_key)
);

-- pending_requests() and announce_badges() counting them: sql/tenant/functions/.

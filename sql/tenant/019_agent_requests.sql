-- Agent-to-agent chat requests, and sessions shared with other brokerages
-- (docs/decisions/0028-shared-sessions.md).
--
-- A session between agents of two brokerages exists once in each brokerage's schema, with the
-- same id, the same messages (ids and seq) and the same members; each copy keeps its own
-- status, search terms and retention. Both copies are written in one transaction, each under
-- its own brokerage's role.

-- An agent of another brokerage, as this brokerage's copies know them: their user id here is
-- '@<their brokerage's slug>:<their MemberKey>' (tokens whose sub begins with '@' are refused,
-- so no user of this brokerage can ever hold such an id); `brokerage` is that slug.
ALTER TABLE users ADD COLUMN brokerage text CHECK (brokerage IS NULL OR id LIKE '@%');

-- The other brokerages holding a copy of this session (slugs). Set when the session is made and
-- never changed; empty for every session that stays in this brokerage.
ALTER TABLE sessions ADD COLUMN peers text[] NOT NULL DEFAULT '{}';

-- Chat requests from agents (Request Chat in the agent directory), beside the website's.
ALTER TABLE chat_requests ADD COLUMN source text NOT NULL DEFAULT 'website' CHECK (source IN ('website', 'agent'));
-- The requesting agent: their brokerage (slug), MemberKey, and public directory profile as it was
-- when they asked (only public fields ever leave a brokerage).
ALTER TABLE chat_requests ADD COLUMN requester_brokerage text;
ALTER TABLE chat_requests ADD COLUMN requester_key text;
ALTER TABLE chat_requests ADD COLUMN requester jsonb CHECK (requester IS NULL OR jsonb_typeof(requester) = 'object');
ALTER TABLE chat_requests ALTER COLUMN visitor_id DROP NOT NULL;
-- "email or phone" is the website form's rule; an agent is reached through the chat.
ALTER TABLE chat_requests DROP CONSTRAINT chat_requests_check;
ALTER TABLE chat_requests ADD CONSTRAINT chat_requests_reachable CHECK (source = 'agent' OR email IS NOT NULL OR phone IS NOT NULL);
ALTER TABLE chat_requests ADD CONSTRAINT chat_requests_source_fields CHECK (
    CASE source WHEN 'agent' THEN visitor_id IS NULL AND requester_brokerage IS NOT NULL AND requester_key IS NOT NULL AND requester IS NOT NULL
                ELSE visitor_id IS NOT NULL AND requester_brokerage IS NULL AND requester_key IS NULL AND requester IS NULL END);
-- One pending request per pair: asking again returns it.
CREATE UNIQUE INDEX chat_requests_pending_agent ON chat_requests (agent_id, requester_brokerage, requester_key)
    WHERE status = 'pending' AND source = 'agent';

-- The requester's side of an agent's request: the same id as the target brokerage's
-- chat_requests row, the target's public profile, and the status the target's side decided
-- (never the decline notes).
CREATE TABLE sent_chat_requests (
    id                uuid        PRIMARY KEY,
    requester_id      text        NOT NULL REFERENCES users (id),
    target_brokerage  text        NOT NULL,
    target_key        text        NOT NULL,
    target            jsonb       NOT NULL CHECK (jsonb_typeof(target) = 'object'),
    message           text        NOT NULL DEFAULT '' CHECK (char_length(message) <= 5000),
    property          jsonb       CHECK (property IS NULL OR jsonb_typeof(property) = 'object'),
    status            text        NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'accepted', 'declined', 'expired')),
    expires_at        timestamptz NOT NULL,
    decided_at        timestamptz,
    session_id        uuid        REFERENCES sessions (id),
    created_at        timestamptz NOT NULL DEFAULT now(),
    CHECK ((status = 'accepted') = (session_id IS NOT NULL))
);
CREATE UNIQUE INDEX sent_chat_requests_pending ON sent_chat_requests (requester_id, target_brokerage, target_key)
    WHERE status = 'pending';
-- The per-agent hourly limit and the requester's list, newest first.
ALTER TABLE sent_chat_requests SET (autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 1000);
CREATE INDEX sent_chat_requests_requester ON sent_chat_requests (requester_id, created_at DESC, id DESC);

-- Agents an agent does not want requests from: one agent of a brokerage, or (member_key NULL)
-- every agent of it.
CREATE TABLE agent_blocks (
    id          uuid        PRIMARY KEY DEFAULT gen_random_uuid(),
    agent_id    text        NOT NULL REFERENCES users (id),
    brokerage   text        NOT NULL,
    member_key  text        CHECK (member_key IS NULL OR char_length(member_key) BETWEEN 1 AND 200),
    created_at  timestamptz NOT NULL DEFAULT now()
);
CREATE UNIQUE INDEX agent_blocks_unique ON agent_blocks (agent_id, brokerage, coalesce(member_key, ''));
ALTER TABLE agent_blocks SET (autovacuum_vacuum_threshold = 1000, autovacuum_analyze_threshold = 1000);

-- parley-baseline-of: 3c95d096e4e57f5e
--
-- PostgreSQL database dump
--

--
-- Name: @SCHEMA@; Type: SCHEMA; Schema: -; Owner: @ROLE@
--

--
-- Name: messages; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.messages (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_id uuid NOT NULL,
    seq public.parley_message_seq NOT NULL,
    sender_id text NOT NULL,
    client_message_id public.parley_client_message_id NOT NULL,
    text public.parley_message_text NOT NULL,
    listing public.parley_listing,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    search tsvector,
    search_long tsvector,
    html text
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: users; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.users (
    id text NOT NULL,
    role text NOT NULL,
    display_name text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    search_name text GENERATED ALWAYS AS (public.parley_unaccent(lower(display_name))) STORED,
    brokerage text,
    CONSTRAINT users_check CHECK (((brokerage IS NULL) OR (id ~~ '@%'::text))),
    CONSTRAINT users_display_name_check CHECK (((char_length(display_name) >= 1) AND (char_length(display_name) <= 200))),
    CONSTRAINT users_id_check CHECK (((char_length(id) >= 1) AND (char_length(id) <= 200))),
    CONSTRAINT users_role_check CHECK ((role = ANY (ARRAY['agent'::text, 'client'::text])))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: webhook_endpoints; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.webhook_endpoints (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    url text NOT NULL,
    event_types text[] NOT NULL,
    description text DEFAULT ''::text NOT NULL,
    enabled boolean DEFAULT true NOT NULL,
    disabled_reason text,
    secret text NOT NULL,
    previous_secret text,
    previous_secret_expires_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    scan_position bigint DEFAULT 0 NOT NULL,
    failing_since timestamp with time zone,
    last_failed_at timestamp with time zone,
    older_secret text,
    older_secret_expires_at timestamp with time zone,
    CONSTRAINT webhook_endpoints_description_check CHECK ((char_length(description) <= 500)),
    CONSTRAINT webhook_endpoints_disabled_reason_check CHECK ((char_length(disabled_reason) <= 500)),
    CONSTRAINT webhook_endpoints_event_types_check CHECK (((cardinality(event_types) >= 1) AND (cardinality(event_types) <= 20))),
    CONSTRAINT webhook_endpoints_url_check CHECK (((char_length(url) >= 1) AND (char_length(url) <= 2000)))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: agent_blocks; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.agent_blocks (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    agent_id text NOT NULL,
    brokerage text NOT NULL,
    member_key text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT agent_blocks_member_key_check CHECK (((member_key IS NULL) OR ((char_length(member_key) >= 1) AND (char_length(member_key) <= 200))))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: attachments; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.attachments (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    session_id uuid NOT NULL,
    uploader_id text NOT NULL,
    state text DEFAULT 'uploading'::text NOT NULL,
    file_name text NOT NULL,
    media_type text DEFAULT 'application/octet-stream'::text NOT NULL,
    size bigint DEFAULT 0 NOT NULL,
    sha256 text,
    width integer,
    height integer,
    message_id uuid,
    "position" smallint,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT attachments_check CHECK (((message_id IS NULL) OR ((state = 'ready'::text) AND ("position" IS NOT NULL)))),
    CONSTRAINT attachments_file_name_check CHECK (((char_length(file_name) >= 1) AND (char_length(file_name) <= 255))),
    CONSTRAINT attachments_height_check CHECK ((height > 0)),
    CONSTRAINT attachments_position_check CHECK ((("position" >= 1) AND ("position" <= 100))),
    CONSTRAINT attachments_sha256_check CHECK ((sha256 ~ '^[0-9a-f]{64}$'::text)),
    CONSTRAINT attachments_size_check CHECK ((size >= 0)),
    CONSTRAINT attachments_state_check CHECK ((state = ANY (ARRAY['uploading'::text, 'ready'::text, 'deleting'::text]))),
    CONSTRAINT attachments_width_check CHECK ((width > 0))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: badge_counts; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.badge_counts (
    user_id text NOT NULL,
    unread bigint NOT NULL
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: badge_deltas; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.badge_deltas (
    user_id text NOT NULL,
    delta bigint NOT NULL
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='2147483647', vacuum_truncate='false', autovacuum_vacuum_scale_factor='0', autovacuum_vacuum_insert_scale_factor='0', autovacuum_vacuum_insert_threshold='1000');

ALTER TABLE ONLY @SCHEMA@.badge_deltas REPLICA IDENTITY FULL;

--
-- Name: blob_chunks; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.blob_chunks (
    blob_id uuid NOT NULL,
    n integer NOT NULL,
    data bytea NOT NULL,
    CONSTRAINT blob_chunks_n_check CHECK ((n >= 0))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');
ALTER TABLE ONLY @SCHEMA@.blob_chunks ALTER COLUMN data SET STORAGE EXTERNAL;

--
-- Name: chat_requests; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.chat_requests (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    agent_id text NOT NULL,
    visitor_id text,
    name text NOT NULL,
    email text,
    phone text,
    message text DEFAULT ''::text NOT NULL,
    property jsonb,
    preferred_contact_method text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    decided_by text,
    decided_at timestamp with time zone,
    decline_notes text,
    session_id uuid,
    contact_id uuid,
    origin text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    source text DEFAULT 'website'::text NOT NULL,
    requester_brokerage text,
    requester_key text,
    requester jsonb,
    CONSTRAINT chat_requests_agent_id_check CHECK (((char_length(agent_id) >= 1) AND (char_length(agent_id) <= 200))),
    CONSTRAINT chat_requests_check1 CHECK (((status = 'accepted'::text) = (session_id IS NOT NULL))),
    CONSTRAINT chat_requests_check2 CHECK (((status <> 'declined'::text) OR (decided_by IS NOT NULL))),
    CONSTRAINT chat_requests_check3 CHECK (((decline_notes IS NULL) OR (status = 'declined'::text))),
    CONSTRAINT chat_requests_decline_notes_check CHECK (((decline_notes IS NULL) OR (char_length(decline_notes) <= 5000))),
    CONSTRAINT chat_requests_email_check CHECK (((email IS NULL) OR (char_length(email) <= 254))),
    CONSTRAINT chat_requests_message_check CHECK ((char_length(message) <= 5000)),
    CONSTRAINT chat_requests_name_check CHECK (((char_length(name) >= 1) AND (char_length(name) <= 200))),
    CONSTRAINT chat_requests_phone_check CHECK (((phone IS NULL) OR (phone ~ '^\+[1-9][0-9]{6,14}$'::text))),
    CONSTRAINT chat_requests_preferred_contact_method_check CHECK ((preferred_contact_method = ANY (ARRAY['email'::text, 'phone'::text, 'text'::text, 'chat'::text]))),
    CONSTRAINT chat_requests_property_check CHECK (((property IS NULL) OR (jsonb_typeof(property) = 'object'::text))),
    CONSTRAINT chat_requests_reachable CHECK (((source = 'agent'::text) OR (email IS NOT NULL) OR (phone IS NOT NULL))),
    CONSTRAINT chat_requests_requester_check CHECK (((requester IS NULL) OR (jsonb_typeof(requester) = 'object'::text))),
    CONSTRAINT chat_requests_source_check CHECK ((source = ANY (ARRAY['website'::text, 'agent'::text]))),
    CONSTRAINT chat_requests_source_fields CHECK (
CASE source
    WHEN 'agent'::text THEN ((visitor_id IS NULL) AND (requester_brokerage IS NOT NULL) AND (requester_key IS NOT NULL) AND (requester IS NOT NULL))
    ELSE ((visitor_id IS NOT NULL) AND (requester_brokerage IS NULL) AND (requester_key IS NULL) AND (requester IS NULL))
END),
    CONSTRAINT chat_requests_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'accepted'::text, 'declined'::text, 'expired'::text])))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: contact_listings; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.contact_listings (
    contact_id uuid NOT NULL,
    listing_key text NOT NULL,
    listing jsonb NOT NULL,
    source text NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT contact_listings_listing_check CHECK ((jsonb_typeof(listing) = 'object'::text))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: contacts; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.contacts (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    owner_member_key text NOT NULL,
    user_id text,
    first_name text,
    last_name text,
    full_name text NOT NULL,
    email text,
    email_key text GENERATED ALWAYS AS (lower(email)) STORED,
    mobile_phone text,
    preferred_phone text,
    lead_source text,
    notes text,
    preferred_contact_method text,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT contacts_email_check CHECK ((char_length(email) <= 254)),
    CONSTRAINT contacts_first_name_check CHECK ((char_length(first_name) <= 100)),
    CONSTRAINT contacts_full_name_check CHECK (((char_length(full_name) >= 1) AND (char_length(full_name) <= 200))),
    CONSTRAINT contacts_last_name_check CHECK ((char_length(last_name) <= 100)),
    CONSTRAINT contacts_lead_source_check CHECK ((char_length(lead_source) <= 100)),
    CONSTRAINT contacts_mobile_phone_check CHECK ((mobile_phone ~ '^\+[1-9][0-9]{6,14}$'::text)),
    CONSTRAINT contacts_notes_check CHECK ((char_length(notes) <= 5000)),
    CONSTRAINT contacts_preferred_contact_method_check CHECK ((preferred_contact_method = ANY (ARRAY['email'::text, 'phone'::text, 'text'::text, 'chat'::text]))),
    CONSTRAINT contacts_preferred_phone_check CHECK ((preferred_phone ~ '^\+[1-9][0-9]{6,14}$'::text))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: event_clock; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.event_clock (
    singleton boolean DEFAULT true NOT NULL,
    "position" bigint NOT NULL,
    CONSTRAINT event_clock_singleton_check CHECK (singleton)
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: event_outbox; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.event_outbox (
    id bigint NOT NULL,
    type public.parley_event_type NOT NULL,
    session_id uuid,
    recipients public.parley_event_recipients NOT NULL,
    data jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL
)
WITH (autovacuum_vacuum_scale_factor='0', autovacuum_vacuum_insert_scale_factor='0', autovacuum_vacuum_insert_threshold='1000', autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='2147483647', vacuum_truncate='false');

--
-- Name: event_outbox_id_seq; Type: SEQUENCE; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE @SCHEMA@.event_outbox ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME @SCHEMA@.event_outbox_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: events; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.events (
    type text NOT NULL,
    session_id uuid,
    recipients text[] NOT NULL,
    data jsonb NOT NULL,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    pos bigint NOT NULL,
    CONSTRAINT events_recipients_check CHECK ((cardinality(recipients) > 0)),
    CONSTRAINT events_type_check CHECK ((type ~ '^[a-z]+\.[a-z_]+$'::text))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: session_closures; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.session_closures (
    id bigint NOT NULL,
    session_id uuid NOT NULL,
    closed_at timestamp with time zone NOT NULL,
    closed_by text,
    reopened_at timestamp with time zone,
    reopened_by text
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: sessions; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.sessions (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    kind public.parley_session_kind NOT NULL,
    status public.parley_session_status DEFAULT 'active'::text NOT NULL,
    created_by text NOT NULL,
    contact_id uuid,
    last_seq bigint DEFAULT 0 NOT NULL,
    last_message_at timestamp with time zone,
    last_message_preview text,
    last_sender_id text,
    last_activity_at timestamp with time zone DEFAULT now() NOT NULL,
    status_changed_by text,
    status_changed_at timestamp with time zone,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    peers text[] DEFAULT '{}'::text[] NOT NULL,
    CONSTRAINT sessions_check CHECK ((((kind)::text = 'client'::text) OR (contact_id IS NULL)))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: session_members; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.session_members (
    session_id uuid NOT NULL,
    user_id text NOT NULL,
    role public.parley_member_role NOT NULL,
    last_read_seq public.parley_read_seq DEFAULT 0 NOT NULL,
    marked_unread boolean DEFAULT false NOT NULL,
    joined_at timestamp with time zone DEFAULT now() NOT NULL,
    archived_at timestamp with time zone
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: sent_chat_requests; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.sent_chat_requests (
    id uuid NOT NULL,
    requester_id text NOT NULL,
    target_brokerage text NOT NULL,
    target_key text NOT NULL,
    target jsonb NOT NULL,
    message text DEFAULT ''::text NOT NULL,
    property jsonb,
    status text DEFAULT 'pending'::text NOT NULL,
    expires_at timestamp with time zone NOT NULL,
    decided_at timestamp with time zone,
    session_id uuid,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT sent_chat_requests_check CHECK (((status = 'accepted'::text) = (session_id IS NOT NULL))),
    CONSTRAINT sent_chat_requests_message_check CHECK ((char_length(message) <= 5000)),
    CONSTRAINT sent_chat_requests_property_check CHECK (((property IS NULL) OR (jsonb_typeof(property) = 'object'::text))),
    CONSTRAINT sent_chat_requests_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'accepted'::text, 'declined'::text, 'expired'::text]))),
    CONSTRAINT sent_chat_requests_target_check CHECK ((jsonb_typeof(target) = 'object'::text))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: session_closures_id_seq; Type: SEQUENCE; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE @SCHEMA@.session_closures ALTER COLUMN id ADD GENERATED ALWAYS AS IDENTITY (
    SEQUENCE NAME @SCHEMA@.session_closures_id_seq
    START WITH 1
    INCREMENT BY 1
    NO MINVALUE
    NO MAXVALUE
    CACHE 1
);

--
-- Name: session_terms; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.session_terms (
    lexeme text NOT NULL COLLATE pg_catalog."C",
    session_id uuid NOT NULL
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: storage_usage; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.storage_usage (
    singleton boolean DEFAULT true NOT NULL,
    attachment_bytes bigint NOT NULL,
    CONSTRAINT storage_usage_singleton_check CHECK (singleton)
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: webhook_attempts; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.webhook_attempts (
    delivery_id uuid NOT NULL,
    attempt integer NOT NULL,
    started_at timestamp with time zone NOT NULL,
    status integer,
    latency_ms integer NOT NULL,
    error text,
    response text,
    CONSTRAINT webhook_attempts_error_check CHECK ((char_length(error) <= 1000)),
    CONSTRAINT webhook_attempts_response_check CHECK ((char_length(response) <= 1000))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: webhook_deliveries; Type: TABLE; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TABLE @SCHEMA@.webhook_deliveries (
    id uuid DEFAULT gen_random_uuid() NOT NULL,
    endpoint_id uuid NOT NULL,
    message_id text DEFAULT ('msg_'::text || replace((gen_random_uuid())::text, '-'::text, ''::text)) NOT NULL,
    event_pos bigint,
    event_type text NOT NULL,
    body text NOT NULL,
    status text DEFAULT 'pending'::text NOT NULL,
    attempts integer DEFAULT 0 NOT NULL,
    retry_step integer DEFAULT 0 NOT NULL,
    next_attempt_at timestamp with time zone DEFAULT now(),
    lease_until timestamp with time zone,
    last_attempt_at timestamp with time zone,
    last_status integer,
    last_error text,
    last_latency_ms integer,
    created_at timestamp with time zone DEFAULT now() NOT NULL,
    updated_at timestamp with time zone DEFAULT now() NOT NULL,
    CONSTRAINT webhook_deliveries_status_check CHECK ((status = ANY (ARRAY['pending'::text, 'succeeded'::text, 'failed'::text])))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Data for Name: agent_blocks; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: attachments; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: badge_counts; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: badge_deltas; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: blob_chunks; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: chat_requests; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: contact_listings; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: contacts; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: event_clock; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

INSERT INTO @SCHEMA@.event_clock VALUES (true, 0);

--
-- Data for Name: event_outbox; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: events; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: messages; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: sent_chat_requests; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: session_closures; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: session_members; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: session_terms; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: sessions; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: storage_usage; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

INSERT INTO @SCHEMA@.storage_usage VALUES (true, 0);

--
-- Data for Name: users; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: webhook_attempts; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: webhook_deliveries; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Data for Name: webhook_endpoints; Type: TABLE DATA; Schema: @SCHEMA@; Owner: @ROLE@
--

--
-- Name: event_outbox_id_seq; Type: SEQUENCE SET; Schema: @SCHEMA@; Owner: @ROLE@
--

SELECT pg_catalog.setval('@SCHEMA@.event_outbox_id_seq', 1, false);

--
-- Name: session_closures_id_seq; Type: SEQUENCE SET; Schema: @SCHEMA@; Owner: @ROLE@
--

SELECT pg_catalog.setval('@SCHEMA@.session_closures_id_seq', 1, false);

--
-- Name: agent_blocks agent_blocks_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.agent_blocks
    ADD CONSTRAINT agent_blocks_pkey PRIMARY KEY (id);

--
-- Name: attachments attachments_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.attachments
    ADD CONSTRAINT attachments_pkey PRIMARY KEY (id);

--
-- Name: badge_counts badge_counts_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.badge_counts
    ADD CONSTRAINT badge_counts_pkey PRIMARY KEY (user_id);

--
-- Name: blob_chunks blob_chunks_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.blob_chunks
    ADD CONSTRAINT blob_chunks_pkey PRIMARY KEY (blob_id, n);

--
-- Name: chat_requests chat_requests_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.chat_requests
    ADD CONSTRAINT chat_requests_pkey PRIMARY KEY (id);

--
-- Name: chat_requests chat_requests_visitor_id_key; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.chat_requests
    ADD CONSTRAINT chat_requests_visitor_id_key UNIQUE (visitor_id);

--
-- Name: contact_listings contact_listings_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.contact_listings
    ADD CONSTRAINT contact_listings_pkey PRIMARY KEY (contact_id, listing_key);

--
-- Name: contacts contacts_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.contacts
    ADD CONSTRAINT contacts_pkey PRIMARY KEY (id);

--
-- Name: event_clock event_clock_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.event_clock
    ADD CONSTRAINT event_clock_pkey PRIMARY KEY (singleton);

--
-- Name: event_outbox event_outbox_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.event_outbox
    ADD CONSTRAINT event_outbox_pkey PRIMARY KEY (id);

--
-- Name: events events_pos; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.events
    ADD CONSTRAINT events_pos PRIMARY KEY (pos);

--
-- Name: messages messages_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.messages
    ADD CONSTRAINT messages_pkey PRIMARY KEY (id);

--
-- Name: messages messages_session_id_sender_id_client_message_id_key; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.messages
    ADD CONSTRAINT messages_session_id_sender_id_client_message_id_key UNIQUE (session_id, sender_id, client_message_id);

--
-- Name: messages messages_session_seq; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.messages
    ADD CONSTRAINT messages_session_seq UNIQUE (session_id, seq) INCLUDE (search);

--
-- Name: sent_chat_requests sent_chat_requests_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.sent_chat_requests
    ADD CONSTRAINT sent_chat_requests_pkey PRIMARY KEY (id);

--
-- Name: session_closures session_closures_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.session_closures
    ADD CONSTRAINT session_closures_pkey PRIMARY KEY (id);

--
-- Name: session_members session_members_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.session_members
    ADD CONSTRAINT session_members_pkey PRIMARY KEY (session_id, user_id);

--
-- Name: session_terms session_terms_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.session_terms
    ADD CONSTRAINT session_terms_pkey PRIMARY KEY (lexeme, session_id);

--
-- Name: sessions sessions_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.sessions
    ADD CONSTRAINT sessions_pkey PRIMARY KEY (id);

--
-- Name: storage_usage storage_usage_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.storage_usage
    ADD CONSTRAINT storage_usage_pkey PRIMARY KEY (singleton);

--
-- Name: users users_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.users
    ADD CONSTRAINT users_pkey PRIMARY KEY (id);

--
-- Name: webhook_attempts webhook_attempts_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.webhook_attempts
    ADD CONSTRAINT webhook_attempts_pkey PRIMARY KEY (delivery_id, attempt);

--
-- Name: webhook_deliveries webhook_deliveries_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_pkey PRIMARY KEY (id);

--
-- Name: webhook_endpoints webhook_endpoints_pkey; Type: CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.webhook_endpoints
    ADD CONSTRAINT webhook_endpoints_pkey PRIMARY KEY (id);

--
-- Name: agent_blocks_unique; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE UNIQUE INDEX agent_blocks_unique ON @SCHEMA@.agent_blocks USING btree (agent_id, brokerage, COALESCE(member_key, ''::text));

--
-- Name: attachments_message; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX attachments_message ON @SCHEMA@.attachments USING btree (message_id, "position") WHERE (message_id IS NOT NULL);

--
-- Name: attachments_unsent_by_uploader; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX attachments_unsent_by_uploader ON @SCHEMA@.attachments USING btree (uploader_id) WHERE (message_id IS NULL);

--
-- Name: attachments_unused; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX attachments_unused ON @SCHEMA@.attachments USING btree (created_at) WHERE (message_id IS NULL);

--
-- Name: badge_deltas_user; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX badge_deltas_user ON @SCHEMA@.badge_deltas USING btree (user_id);

--
-- Name: chat_requests_agent; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX chat_requests_agent ON @SCHEMA@.chat_requests USING btree (agent_id, status, created_at DESC, id DESC);

--
-- Name: chat_requests_pending_age; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX chat_requests_pending_age ON @SCHEMA@.chat_requests USING btree (created_at) WHERE ((status = 'pending'::text) AND (created_at IS NOT NULL));

--
-- Name: chat_requests_pending_agent; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE UNIQUE INDEX chat_requests_pending_agent ON @SCHEMA@.chat_requests USING btree (agent_id, requester_brokerage, requester_key) WHERE ((status = 'pending'::text) AND (source = 'agent'::text));

--
-- Name: chat_requests_pending_email; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE UNIQUE INDEX chat_requests_pending_email ON @SCHEMA@.chat_requests USING btree (agent_id, lower(email)) WHERE ((status = 'pending'::text) AND (email IS NOT NULL));

--
-- Name: chat_requests_pending_phone; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE UNIQUE INDEX chat_requests_pending_phone ON @SCHEMA@.chat_requests USING btree (agent_id, phone) WHERE ((status = 'pending'::text) AND (email IS NULL));

--
-- Name: contacts_owner_email; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE UNIQUE INDEX contacts_owner_email ON @SCHEMA@.contacts USING btree (owner_member_key, email_key) WHERE (email_key IS NOT NULL);

--
-- Name: contacts_owner_mobile; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE UNIQUE INDEX contacts_owner_mobile ON @SCHEMA@.contacts USING btree (owner_member_key, mobile_phone) WHERE (mobile_phone IS NOT NULL);

--
-- Name: contacts_owner_name; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX contacts_owner_name ON @SCHEMA@.contacts USING btree (owner_member_key, lower(full_name) text_pattern_ops, id);

--
-- Name: contacts_user; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX contacts_user ON @SCHEMA@.contacts USING btree (user_id) WHERE (user_id IS NOT NULL);

--
-- Name: events_recipients; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX events_recipients ON @SCHEMA@.events USING gin (recipients);

--
-- Name: messages_long_by_session; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX messages_long_by_session ON @SCHEMA@.messages USING btree (session_id) WHERE (search_long IS NOT NULL);

--
-- Name: sent_chat_requests_pending; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE UNIQUE INDEX sent_chat_requests_pending ON @SCHEMA@.sent_chat_requests USING btree (requester_id, target_brokerage, target_key) WHERE (status = 'pending'::text);

--
-- Name: sent_chat_requests_requester; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX sent_chat_requests_requester ON @SCHEMA@.sent_chat_requests USING btree (requester_id, created_at DESC, id DESC);

--
-- Name: session_closures_open; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX session_closures_open ON @SCHEMA@.session_closures USING btree (session_id) WHERE (reopened_at IS NULL);

--
-- Name: session_members_user; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX session_members_user ON @SCHEMA@.session_members USING btree (user_id, session_id);

--
-- Name: sessions_activity; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX sessions_activity ON @SCHEMA@.sessions USING btree (last_activity_at DESC, id DESC);

--
-- Name: sessions_contact; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX sessions_contact ON @SCHEMA@.sessions USING btree (contact_id) WHERE (contact_id IS NOT NULL);

--
-- Name: users_search_name; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX users_search_name ON @SCHEMA@.users USING gin (search_name public.gin_trgm_ops);

--
-- Name: webhook_deliveries_due; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX webhook_deliveries_due ON @SCHEMA@.webhook_deliveries USING btree (endpoint_id, next_attempt_at, event_pos) WHERE (status = 'pending'::text);

--
-- Name: webhook_deliveries_finished; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX webhook_deliveries_finished ON @SCHEMA@.webhook_deliveries USING btree (updated_at) WHERE (status <> 'pending'::text);

--
-- Name: webhook_deliveries_leased; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX webhook_deliveries_leased ON @SCHEMA@.webhook_deliveries USING btree (endpoint_id, lease_until) WHERE (lease_until IS NOT NULL);

--
-- Name: webhook_deliveries_log; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX webhook_deliveries_log ON @SCHEMA@.webhook_deliveries USING btree (endpoint_id, created_at DESC, id DESC);

--
-- Name: agent_blocks agent_blocks_agent_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.agent_blocks
    ADD CONSTRAINT agent_blocks_agent_id_fkey FOREIGN KEY (agent_id) REFERENCES @SCHEMA@.users(id);

--
-- Name: attachments attachments_message_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.attachments
    ADD CONSTRAINT attachments_message_id_fkey FOREIGN KEY (message_id) REFERENCES @SCHEMA@.messages(id) ON DELETE CASCADE;

--
-- Name: attachments attachments_session_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.attachments
    ADD CONSTRAINT attachments_session_id_fkey FOREIGN KEY (session_id) REFERENCES @SCHEMA@.sessions(id) ON DELETE CASCADE;

--
-- Name: attachments attachments_uploader_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.attachments
    ADD CONSTRAINT attachments_uploader_id_fkey FOREIGN KEY (uploader_id) REFERENCES @SCHEMA@.users(id);

--
-- Name: chat_requests chat_requests_contact_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.chat_requests
    ADD CONSTRAINT chat_requests_contact_id_fkey FOREIGN KEY (contact_id) REFERENCES @SCHEMA@.contacts(id);

--
-- Name: chat_requests chat_requests_session_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.chat_requests
    ADD CONSTRAINT chat_requests_session_id_fkey FOREIGN KEY (session_id) REFERENCES @SCHEMA@.sessions(id);

--
-- Name: contact_listings contact_listings_contact_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.contact_listings
    ADD CONSTRAINT contact_listings_contact_id_fkey FOREIGN KEY (contact_id) REFERENCES @SCHEMA@.contacts(id) ON DELETE CASCADE;

--
-- Name: contacts contacts_owner_member_key_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.contacts
    ADD CONSTRAINT contacts_owner_member_key_fkey FOREIGN KEY (owner_member_key) REFERENCES @SCHEMA@.users(id);

--
-- Name: contacts contacts_user_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.contacts
    ADD CONSTRAINT contacts_user_id_fkey FOREIGN KEY (user_id) REFERENCES @SCHEMA@.users(id);

--
-- Name: messages messages_sender_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.messages
    ADD CONSTRAINT messages_sender_id_fkey FOREIGN KEY (sender_id) REFERENCES @SCHEMA@.users(id);

--
-- Name: messages messages_session_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.messages
    ADD CONSTRAINT messages_session_id_fkey FOREIGN KEY (session_id) REFERENCES @SCHEMA@.sessions(id) ON DELETE CASCADE;

--
-- Name: sent_chat_requests sent_chat_requests_requester_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.sent_chat_requests
    ADD CONSTRAINT sent_chat_requests_requester_id_fkey FOREIGN KEY (requester_id) REFERENCES @SCHEMA@.users(id);

--
-- Name: sent_chat_requests sent_chat_requests_session_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.sent_chat_requests
    ADD CONSTRAINT sent_chat_requests_session_id_fkey FOREIGN KEY (session_id) REFERENCES @SCHEMA@.sessions(id);

--
-- Name: session_closures session_closures_session_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.session_closures
    ADD CONSTRAINT session_closures_session_id_fkey FOREIGN KEY (session_id) REFERENCES @SCHEMA@.sessions(id) ON DELETE CASCADE;

--
-- Name: session_members session_members_session_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.session_members
    ADD CONSTRAINT session_members_session_id_fkey FOREIGN KEY (session_id) REFERENCES @SCHEMA@.sessions(id) ON DELETE CASCADE;

--
-- Name: session_members session_members_user_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.session_members
    ADD CONSTRAINT session_members_user_id_fkey FOREIGN KEY (user_id) REFERENCES @SCHEMA@.users(id);

--
-- Name: sessions sessions_contact_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.sessions
    ADD CONSTRAINT sessions_contact_id_fkey FOREIGN KEY (contact_id) REFERENCES @SCHEMA@.contacts(id) ON DELETE SET NULL;

--
-- Name: sessions sessions_created_by_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.sessions
    ADD CONSTRAINT sessions_created_by_fkey FOREIGN KEY (created_by) REFERENCES @SCHEMA@.users(id);

--
-- Name: webhook_attempts webhook_attempts_delivery_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.webhook_attempts
    ADD CONSTRAINT webhook_attempts_delivery_id_fkey FOREIGN KEY (delivery_id) REFERENCES @SCHEMA@.webhook_deliveries(id) ON DELETE CASCADE;

--
-- Name: webhook_deliveries webhook_deliveries_endpoint_id_fkey; Type: FK CONSTRAINT; Schema: @SCHEMA@; Owner: @ROLE@
--

ALTER TABLE ONLY @SCHEMA@.webhook_deliveries
    ADD CONSTRAINT webhook_deliveries_endpoint_id_fkey FOREIGN KEY (endpoint_id) REFERENCES @SCHEMA@.webhook_endpoints(id) ON DELETE CASCADE;

--
-- PostgreSQL database dump complete
--

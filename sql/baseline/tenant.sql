-- parley-baseline-of: 191d4b062af42868
--
-- PostgreSQL database dump
--

--
-- Name: @SCHEMA@; Type: SCHEMA; Schema: -; Owner: @ROLE@
--

--
-- Name: announce_badges(text[]); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.announce_badges(p_users text[]) RETURNS void
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO event_outbox (type, recipients, data)
    SELECT 'badge.updated', ARRAY[u.id], '{}'::jsonb
    FROM (SELECT DISTINCT unnest(p_users) AS id) AS u;
END;
$$;

--
-- Name: badge_member_changed(); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.badge_member_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_status text;
    v_last_seq bigint;
    v_delta bigint := 0;
    v_user text;
BEGIN
    v_user := CASE WHEN TG_OP = 'DELETE' THEN OLD.user_id ELSE NEW.user_id END;
    SELECT s.status, s.last_seq INTO v_status, v_last_seq
    FROM sessions s WHERE s.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.session_id ELSE NEW.session_id END;
    IF NOT FOUND THEN
        RETURN NULL;
    END IF;
    IF TG_OP <> 'DELETE' THEN
        v_delta := unread_contribution(v_status, v_last_seq, NEW.last_read_seq, NEW.marked_unread);
    END IF;
    IF TG_OP <> 'INSERT' THEN
        v_delta := v_delta - unread_contribution(v_status, v_last_seq, OLD.last_read_seq, OLD.marked_unread);
    END IF;
    IF v_delta <> 0 THEN
        INSERT INTO badge_deltas (user_id, delta) VALUES (v_user, v_delta);
    END IF;
    RETURN NULL;
END;
$$;

--
-- Name: badge_session_changed(); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.badge_session_changed() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO badge_deltas (user_id, delta)
    SELECT m.user_id, d.delta
    FROM session_members m
    CROSS JOIN LATERAL (SELECT unread_contribution(NEW.status, NEW.last_seq, m.last_read_seq, m.marked_unread)
                             - unread_contribution(OLD.status, OLD.last_seq, m.last_read_seq, m.marked_unread) AS delta) AS d
    WHERE m.session_id = NEW.id AND d.delta <> 0;
    RETURN NULL;
END;
$$;

--
-- Name: count_session_terms(); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.count_session_terms() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
BEGIN
    INSERT INTO session_terms (lexeme, session_id)
    SELECT w.lexeme, NEW.session_id
    FROM unnest(tsvector_to_array(coalesce(NEW.search, NEW.search_long))) AS w (lexeme)
    ORDER BY w.lexeme
    ON CONFLICT DO NOTHING;
    RETURN NULL;
END;
$$;

--
-- Name: message_attachments(uuid); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.message_attachments(p_message uuid) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT coalesce(jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
               'id', a.id, 'fileName', a.file_name, 'mediaType', a.media_type, 'size', a.size,
               'sha256', a.sha256, 'width', a.width, 'height', a.height,
               'url', '/v1/attachments/' || a.id)) ORDER BY a.position), '[]'::jsonb)
    FROM attachments a WHERE a.message_id = p_message
$$;

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
-- Name: message_json(@SCHEMA@.messages, @SCHEMA@.users, jsonb); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.message_json(p_message @SCHEMA@.messages, p_sender @SCHEMA@.users, p_attachments jsonb DEFAULT NULL::jsonb) RETURNS jsonb
    LANGUAGE sql STABLE
    AS $$
    SELECT jsonb_strip_nulls(jsonb_build_object(
        'id', p_message.id, 'sessionId', p_message.session_id, 'seq', p_message.seq,
        'sender', jsonb_build_object('userId', p_sender.id, 'name', p_sender.display_name, 'role', p_sender.role),
        'clientMessageId', p_message.client_message_id, 'text', p_message.text, 'html', p_message.html,
        'listing', p_message.listing, 'attachments', coalesce(p_attachments, message_attachments(p_message.id)),
        'createdAt', to_char(p_message.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))
$$;

--
-- Name: message_search_vectors(); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.message_search_vectors() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_listing text := coalesce(NEW.listing ->> 'address', '') || ' ' || coalesce(NEW.listing ->> 'ListingId', '');
    v_vector tsvector;
BEGIN
    -- As the generated columns had it: messages of up to 500 bytes of searchable text carry
    -- their vector in `search` (which the (session_id, seq) index includes; a btree entry must
    -- stay under ~2.7 kB), longer ones in `search_long`.
    v_vector := setweight(to_tsvector('public.parley_search', NEW.text), 'A')
             || setweight(to_tsvector('public.parley_search', v_listing), 'B');
    IF octet_length(NEW.text) + octet_length(v_listing) - 1 <= 500 THEN
        NEW.search := v_vector;
        NEW.search_long := NULL;
    ELSE
        NEW.search := NULL;
        NEW.search_long := v_vector;
    END IF;
    RETURN NEW;
END;
$$;

--
-- Name: mirror_message(uuid, uuid, bigint, text, text, text, text, text, jsonb, timestamp with time zone, jsonb); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.mirror_message(p_id uuid, p_session uuid, p_seq bigint, p_sender text, p_client_id text, p_text text, p_html text, p_preview text, p_listing jsonb, p_created_at timestamp with time zone, p_attachments jsonb) RETURNS void
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
#variable_conflict use_column
DECLARE
    -- The transaction's time as a value: Citus refuses now() inside CASE (decision 0032).
    v_now timestamptz := now();
    v_last_seq bigint;
    v_recipients text[];
    v_message messages%ROWTYPE;
    v_sender users%ROWTYPE;
BEGIN
    PERFORM pg_advisory_xact_lock(hashtext('parley.session'), hashtext(p_session::text));
    SELECT s.last_seq INTO v_last_seq FROM sessions s WHERE s.id = p_session FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'shared session % has no copy in %', p_session, current_schema() USING ERRCODE = 'P0002';
    END IF;
    IF EXISTS (SELECT 1 FROM messages e WHERE e.id = p_id) THEN
        RETURN;
    END IF;
    IF v_last_seq <> p_seq - 1 THEN
        RAISE EXCEPTION 'copy of shared session % in % is at seq %, the message is %', p_session, current_schema(), v_last_seq, p_seq
            USING ERRCODE = 'P0004';
    END IF;

    UPDATE session_members r SET last_read_seq = p_seq, marked_unread = false
    WHERE r.session_id = p_session AND r.user_id = p_sender;

    UPDATE sessions s SET last_seq = p_seq, last_message_at = p_created_at, last_activity_at = v_now,
        last_message_preview = p_preview, last_sender_id = p_sender,
        status = CASE WHEN s.status = 'archived' AND s.status_changed_by IS DISTINCT FROM p_sender THEN 'active' ELSE s.status END,
        status_changed_at = CASE WHEN s.status = 'archived' AND s.status_changed_by IS DISTINCT FROM p_sender THEN v_now ELSE s.status_changed_at END
    WHERE s.id = p_session;

    INSERT INTO messages (id, session_id, seq, sender_id, client_message_id, text, html, listing, created_at)
    VALUES (p_id, p_session, p_seq, p_sender, p_client_id, p_text, p_html, p_listing, p_created_at)
    RETURNING * INTO v_message;

    INSERT INTO attachments (id, session_id, uploader_id, state, file_name, media_type, size, sha256, width, height,
                             message_id, position, created_at)
    SELECT a.id, p_session, p_sender, 'ready', a.file_name, a.media_type, a.size, a.sha256, a.width, a.height,
           p_id, a.position, a.created_at
    FROM jsonb_to_recordset(coalesce(p_attachments, '[]'::jsonb))
        AS a(id uuid, file_name text, media_type text, size bigint, sha256 text, width integer, height integer,
             position smallint, created_at timestamptz);

    SELECT * INTO v_sender FROM users u WHERE u.id = p_sender;
    SELECT array_agg(r.user_id) INTO v_recipients FROM session_members r WHERE r.session_id = p_session;
    -- No badge.updated rows: the badge differences this copy's triggers wrote are announced by
    -- sequence_events(), as for send_message() (decision 0043).
    INSERT INTO event_outbox (type, session_id, recipients, data)
    VALUES ('message.created', p_session, v_recipients, message_json(v_message, v_sender));
END;
$$;

--
-- Name: mirror_pending_message(text, text); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.mirror_pending_message(p_home text, p_here text) RETURNS boolean
    LANGUAGE plpgsql
    AS $$
DECLARE
    v jsonb := nullif(current_setting('parley.mirror', true), '')::jsonb;
    v_sender text;
BEGIN
    IF v IS NULL OR (v ->> 'attachments')::int > 0 THEN
        RETURN false;
    END IF;
    v_sender := v ->> 'sender';
    v_sender := CASE WHEN left(v_sender, length(p_here) + 2) = '@' || p_here || ':' THEN substr(v_sender, length(p_here) + 3)
                     WHEN v_sender LIKE '@%' THEN v_sender
                     ELSE '@' || p_home || ':' || v_sender END;
    PERFORM mirror_message((v ->> 'id')::uuid, (v ->> 'session')::uuid, (v ->> 'seq')::bigint, v_sender, v ->> 'clientId',
                           v ->> 'text', v ->> 'html', v ->> 'preview', nullif(v -> 'listing', 'null'::jsonb), (v ->> 'createdAt')::timestamptz, '[]'::jsonb);
    RETURN true;
END;
$$;

--
-- Name: pending_requests(text); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.pending_requests(p_user text) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN (SELECT count(*) FROM chat_requests WHERE agent_id = p_user AND status = 'pending');
END;
$$;

--
-- Name: reserve_attachment_bytes(uuid, text, bigint, bigint, bigint); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.reserve_attachment_bytes(p_attachment uuid, p_uploader text, p_bytes bigint, p_user_limit bigint, p_tenant_limit bigint) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_unsent bigint;
    v_total bigint;
BEGIN
    PERFORM 1 FROM users WHERE id = p_uploader FOR UPDATE;
    SELECT coalesce(sum(size), 0) INTO v_unsent FROM attachments WHERE uploader_id = p_uploader AND message_id IS NULL;
    IF v_unsent + p_bytes > p_user_limit THEN
        RETURN 'user';
    END IF;
    SELECT attachment_bytes INTO v_total FROM storage_usage FOR UPDATE;
    IF v_total + p_bytes > p_tenant_limit THEN
        RETURN 'tenant';
    END IF;
    UPDATE attachments SET size = size + p_bytes WHERE id = p_attachment;
    RETURN 'ok';
END $$;

--
-- Name: send_message(uuid, text, text, text, text, text, jsonb, uuid[], boolean); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.send_message(p_session uuid, p_sender text, p_client_id text, p_text text, p_html text, p_preview text, p_listing jsonb, p_attachments uuid[], p_shared boolean DEFAULT false) RETURNS TABLE(outcome text, message jsonb, members jsonb, peers jsonb)
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
#variable_conflict use_column
DECLARE
    -- The transaction's time as a value: Citus refuses now() inside CASE (decision 0032).
    v_now timestamptz := now();
    v_status text;
    v_new_status text;
    v_session_json jsonb;
    v_last_seq bigint;
    v_peers text[];
    v_members jsonb;
    v_message messages%ROWTYPE;
    v_sender users%ROWTYPE;
    v_recipients text[];
    v_usable integer;
    v_json jsonb;
    v_existing uuid;
BEGIN
    -- Sends of one session run one after another, so the later one's event has the larger id
    -- and is numbered after the earlier one's (docs/decisions/0012-event-positions.md): the
    -- session row's lock below does that. A send that writes every copy of a shared session
    -- (p_shared) takes the session's advisory lock first, as mirror_message() and receipts of
    -- shared sessions do: its key is the same in every brokerage, so two such writers of one
    -- session queue here before either holds a row of a copy and they cannot deadlock over two
    -- copies' rows. A send without p_shared holds only this brokerage's row and waits for nothing
    -- after it (a session found shared returns 'shared' with nothing written), so it needs no
    -- advisory lock: one statement less per send (docs/decisions/0043-send-statements.md).
    IF p_shared THEN
        PERFORM pg_advisory_xact_lock(hashtext('parley.session'), hashtext(p_session::text));
    END IF;

    SELECT s.status, s.last_seq, s.peers INTO v_status, v_last_seq, v_peers
    FROM sessions s JOIN session_members m ON m.session_id = s.id AND m.user_id = p_sender
    WHERE s.id = p_session
    FOR UPDATE OF s;
    IF NOT FOUND THEN
        RETURN QUERY SELECT 'not_found'::text, NULL::jsonb, NULL::jsonb, NULL::jsonb;
        RETURN;
    END IF;

    IF cardinality(v_peers) > 0 AND NOT p_shared THEN
        RETURN QUERY SELECT 'shared'::text, NULL::jsonb, NULL::jsonb, to_jsonb(v_peers);
        RETURN;
    END IF;

    -- Everything else the send needs, in one statement (one executor start, not four; issue 15):
    -- every member's read position (read after the lock, so a member added meanwhile is here),
    -- the fields of the sender that message_json() shows, and the message
    -- this sender may already have stored under this client id.
    SELECT a.members, a.recipients, u.id, u.display_name, u.role,
           (SELECT e.id FROM messages e
            WHERE e.session_id = p_session AND e.sender_id = p_sender AND e.client_message_id = p_client_id)
    INTO v_members, v_recipients, v_sender.id, v_sender.display_name, v_sender.role,
         v_existing
    FROM (SELECT jsonb_object_agg(r.user_id, r.last_read_seq) AS members, array_agg(r.user_id) AS recipients
          FROM session_members r WHERE r.session_id = p_session) AS a
    LEFT JOIN users u ON u.id = p_sender;

    IF v_existing IS NOT NULL THEN
        SELECT * INTO v_message FROM messages e WHERE e.id = v_existing;
        RETURN QUERY SELECT 'existing'::text, message_json(v_message, v_sender), v_members, NULL::jsonb;
        RETURN;
    END IF;

    IF v_status = 'closed' THEN
        RETURN QUERY SELECT 'closed'::text, NULL::jsonb, v_members, NULL::jsonb;
        RETURN;
    END IF;

    IF cardinality(p_attachments) > 0 THEN
        SELECT count(*) INTO v_usable FROM (
            SELECT 1 FROM attachments a
            WHERE a.id = ANY (p_attachments) AND a.session_id = p_session AND a.uploader_id = p_sender
              AND a.state = 'ready' AND a.message_id IS NULL
            FOR UPDATE OF a) AS usable;
        IF v_usable <> (SELECT count(DISTINCT x) FROM unnest(p_attachments) AS x) OR
           cardinality(p_attachments) <> (SELECT count(DISTINCT x) FROM unnest(p_attachments) AS x) THEN
            RETURN QUERY SELECT 'attachments_unavailable'::text, NULL::jsonb, v_members, NULL::jsonb;
            RETURN;
        END IF;
    END IF;

    -- The sender has read their own message: their read position moves to the new seq first,
    -- so the badge triggers (migration 014) see the sender's membership already caught up and
    -- write a difference for the other members only.
    UPDATE session_members r SET last_read_seq = v_last_seq + 1, marked_unread = false
    WHERE r.session_id = p_session AND r.user_id = p_sender;

    UPDATE sessions s SET last_seq = s.last_seq + 1, last_message_at = v_now, last_activity_at = v_now,
        last_message_preview = p_preview, last_sender_id = p_sender,
        status = CASE WHEN s.status = 'archived' AND s.status_changed_by IS DISTINCT FROM p_sender THEN 'active' ELSE s.status END,
        status_changed_at = CASE WHEN s.status = 'archived' AND s.status_changed_by IS DISTINCT FROM p_sender THEN v_now ELSE s.status_changed_at END
    WHERE s.id = p_session
    RETURNING s.last_seq, s.status INTO v_last_seq, v_new_status;

    INSERT INTO messages (session_id, seq, sender_id, client_message_id, text, html, listing)
    VALUES (p_session, v_last_seq, p_sender, p_client_id, p_text, p_html, p_listing)
    RETURNING * INTO v_message;

    IF cardinality(p_attachments) > 0 THEN
        UPDATE attachments a SET message_id = v_message.id, position = x.ord
        FROM unnest(p_attachments) WITH ORDINALITY AS x(id, ord)
        WHERE a.id = x.id;
    END IF;

    v_members := v_members || jsonb_build_object(p_sender, v_last_seq);

    v_json := message_json(v_message, v_sender, CASE WHEN cardinality(p_attachments) > 0 THEN NULL ELSE '[]'::jsonb END);

    -- An archived session that this message made active again: every member's apps hear of
    -- it as of any status change (docs/STREAM.md), the same object SessionStore announces.
    IF v_status = 'archived' AND v_new_status = 'active' THEN
        SELECT jsonb_build_object(
            'sessionId', p_session, 'kind', s.kind, 'agentToAgent', s.kind = 'agent', 'status', s.status,
            'members', (SELECT jsonb_agg(jsonb_strip_nulls(jsonb_build_object(
                            'userId', m.user_id, 'name', u.display_name, 'role', m.role, 'lastReadSeq', m.last_read_seq,
                            'brokerage', u.brokerage)) ORDER BY m.joined_at, m.user_id)
                        FROM session_members m JOIN users u ON u.id = m.user_id WHERE m.session_id = p_session),
            'lastSeq', s.last_seq,
            'lastActivityAt', to_char(s.last_activity_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
            'changedBy', p_sender)
        INTO v_session_json
        FROM sessions s WHERE s.id = p_session;
    END IF;

    -- The send's events in one statement, in this order (the outbox numbers them by id): the
    -- message, and the session made active again, if it was. The members whose badge the send
    -- changed get their badge.updated from sequence_events(), which folds the badge differences
    -- the triggers wrote and announces each user it folded for (decision 0043).
    INSERT INTO event_outbox (type, session_id, recipients, data)
    SELECT 'message.created', p_session, v_recipients, v_json
    UNION ALL
    SELECT 'session.updated', p_session, v_recipients, v_session_json WHERE v_session_json IS NOT NULL;

    IF p_shared THEN
        PERFORM set_config('parley.mirror', jsonb_build_object(
            'id', v_message.id, 'session', p_session, 'seq', v_message.seq, 'sender', p_sender,
            'clientId', p_client_id, 'text', p_text, 'html', p_html, 'preview', p_preview, 'listing', p_listing,
            'createdAt', v_message.created_at::text, 'attachments', cardinality(p_attachments))::text, true);
    END IF;

    -- The result row from the variables (RETURN NEXT), not a query: one executor start less.
    outcome := 'created'; message := v_json; members := v_members; peers := NULL;
    RETURN NEXT;
END;
$$;

--
-- Name: sequence_events(integer); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.sequence_events(p_limit integer DEFAULT 10000) RETURNS bigint
    LANGUAGE plpgsql
    SET plan_cache_mode TO 'force_generic_plan'
    AS $$
DECLARE
    v_last bigint;
    v_count bigint;
    v_changed text[];
BEGIN
    IF NOT EXISTS (SELECT 1 FROM event_outbox) THEN
        RETURN (SELECT position FROM event_clock);
    END IF;
    SELECT position INTO STRICT v_last FROM event_clock FOR UPDATE;
    -- Fold the badge differences committed so far into the kept counts (migration 014): one
    -- folder at a time, under the clock; a count read meanwhile adds what is not folded yet.
    -- The users whose count moved are kept for their badge.updated. Agents of other brokerages
    -- ('@…') have their badge in their own brokerage.
    WITH folded AS (DELETE FROM badge_deltas RETURNING user_id, delta),
    summed AS MATERIALIZED (SELECT user_id, sum(delta) AS delta FROM folded GROUP BY user_id),
    kept AS (
        INSERT INTO badge_counts AS b (user_id, unread)
        SELECT user_id, delta FROM summed
        ON CONFLICT (user_id) DO UPDATE SET unread = b.unread + EXCLUDED.unread)
    SELECT array_agg(user_id) INTO v_changed FROM summed WHERE delta <> 0 AND user_id NOT LIKE '@%';
    IF current_setting('citus.version', true) IS NULL THEN
        -- A new statement, so a new snapshot: it sees what the previous lock holder numbered.
        WITH todo AS MATERIALIZED (
            -- The first p_limit rows, as a range up to the last of them: the bound is computed
            -- once. `id IN (… LIMIT p_limit)` was planned as a semi join that re-ran the LIMIT
            -- for every row (the outbox is never analyzed, so it looks empty): quadratic, 11 s
            -- for a backlog of 8,000 under a send load.
            DELETE FROM event_outbox
            WHERE id <= (SELECT max(id) FROM (SELECT id FROM event_outbox ORDER BY id LIMIT p_limit) AS head)
            RETURNING id, type, session_id, recipients, data, created_at
        ), announced AS (
            -- Users whose folded differences changed their count and that the batch does not
            -- announce already (EXCEPT: a hash or a sort, never a probe of the batch per user).
            SELECT u AS user_id FROM unnest(v_changed) AS u
            EXCEPT
            SELECT recipients[1] FROM todo WHERE type = 'badge.updated'
        ), numbered AS MATERIALIZED (
            SELECT *, row_number() OVER (ORDER BY id NULLS LAST, recipients[1]) AS n
            FROM (SELECT id, type, session_id, recipients, data, created_at FROM todo
                  UNION ALL
                  SELECT NULL, 'badge.updated', NULL, ARRAY[user_id], '{}'::jsonb, now() FROM announced) AS e
        ), counted AS (
            -- Counted once per user of the batch, into one object looked up per event: a backlog
            -- of 10,000 events is one pass, not a join the planner may make quadratic.
            SELECT jsonb_object_agg(u.id, jsonb_build_object(
                       'unreadMessages', b.unread, 'pendingRequests', b.pending, 'total', b.unread + b.pending)) AS by_user
            FROM (SELECT DISTINCT recipients[1] AS id FROM numbered WHERE type = 'badge.updated') AS u
            CROSS JOIN LATERAL (SELECT unread_messages(u.id) AS unread, pending_requests(u.id) AS pending) AS b
        )
        INSERT INTO events (pos, type, session_id, recipients, data, created_at)
        SELECT v_last + n, type, session_id, recipients,
               CASE WHEN type = 'badge.updated'
                    THEN coalesce((SELECT by_user FROM counted) -> recipients[1], data)
                    ELSE data END,
               created_at
        FROM numbered ORDER BY n;
    ELSE
        -- On Citus (decision 0032) this statement runs on the worker, where it may not call
        -- functions that query tables: unread_messages() and pending_requests(), written out.
        -- The same statement otherwise: sharing it would take dynamic SQL, planned on every
        -- call of the delivery path; written out on PostgreSQL too, it broke the suite.
        WITH todo AS MATERIALIZED (
            -- The first p_limit rows as a range, as above.
            DELETE FROM event_outbox
            WHERE id <= (SELECT max(id) FROM (SELECT id FROM event_outbox ORDER BY id LIMIT p_limit) AS head)
            RETURNING id, type, session_id, recipients, data, created_at
        ), announced AS (
            -- Users whose folded differences changed their count and that the batch does not
            -- announce already (EXCEPT: a hash or a sort, never a probe of the batch per user).
            SELECT u AS user_id FROM unnest(v_changed) AS u
            EXCEPT
            SELECT recipients[1] FROM todo WHERE type = 'badge.updated'
        ), numbered AS MATERIALIZED (
            SELECT *, row_number() OVER (ORDER BY id NULLS LAST, recipients[1]) AS n
            FROM (SELECT id, type, session_id, recipients, data, created_at FROM todo
                  UNION ALL
                  SELECT NULL, 'badge.updated', NULL, ARRAY[user_id], '{}'::jsonb, now() FROM announced) AS e
        ), counted AS (
            -- Counted once per user of the batch, into one object looked up per event: a backlog
            -- of 10,000 events is one pass, not a join the planner may make quadratic.
            SELECT jsonb_object_agg(u.id, jsonb_build_object(
                       'unreadMessages', b.unread, 'pendingRequests', b.pending, 'total', b.unread + b.pending)) AS by_user
            FROM (SELECT DISTINCT recipients[1] AS id FROM numbered WHERE type = 'badge.updated') AS u
            CROSS JOIN LATERAL (
                SELECT coalesce((SELECT k.unread FROM badge_counts k WHERE k.user_id = u.id), 0)
                     + coalesce((SELECT sum(d.delta) FROM badge_deltas d WHERE d.user_id = u.id), 0)::bigint AS unread,
                       (SELECT count(*) FROM chat_requests r WHERE r.agent_id = u.id AND r.status = 'pending') AS pending
            ) AS b
        )
        INSERT INTO events (pos, type, session_id, recipients, data, created_at)
        SELECT v_last + n, type, session_id, recipients,
               CASE WHEN type = 'badge.updated'
                    THEN coalesce((SELECT by_user FROM counted) -> recipients[1], data)
                    ELSE data END,
               created_at
        FROM numbered ORDER BY n;
    END IF;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    UPDATE event_clock SET position = v_last + v_count;
    RETURN v_last + v_count;
END;
$$;

--
-- Name: track_attachment_bytes(); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.track_attachment_bytes() RETURNS trigger
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_delta bigint := CASE TG_OP WHEN 'INSERT' THEN NEW.size WHEN 'DELETE' THEN -OLD.size ELSE NEW.size - OLD.size END;
BEGIN
    IF v_delta <> 0 THEN
        UPDATE storage_usage SET attachment_bytes = greatest(0, attachment_bytes + v_delta);
    END IF;
    RETURN NULL;
END $$;

--
-- Name: trim_events(timestamp with time zone, integer); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.trim_events(p_before timestamp with time zone, p_batch integer) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_through bigint;
    v_count integer;
BEGIN
    SELECT max(pos) INTO v_through FROM (
        SELECT pos, bool_and(created_at < p_before) OVER (ORDER BY pos) AS old
        FROM (SELECT pos, created_at FROM events ORDER BY pos LIMIT p_batch) AS head
    ) AS prefix WHERE old;
    IF v_through IS NULL THEN
        RETURN 0;
    END IF;
    DELETE FROM events WHERE pos <= v_through;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    RETURN v_count;
END;
$$;

--
-- Name: unread_contribution(text, bigint, bigint, boolean); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.unread_contribution(p_status text, p_last_seq bigint, p_last_read bigint, p_marked boolean) RETURNS bigint
    LANGUAGE sql IMMUTABLE
    AS $$
    SELECT CASE WHEN p_status = 'active' THEN GREATEST(p_last_seq - p_last_read, CASE WHEN p_marked THEN 1 ELSE 0 END) ELSE 0 END
$$;

--
-- Name: unread_messages(text); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.unread_messages(p_user text) RETURNS bigint
    LANGUAGE plpgsql STABLE
    AS $$
BEGIN
    RETURN coalesce((SELECT unread FROM badge_counts WHERE user_id = p_user), 0)
         + coalesce((SELECT sum(delta) FROM badge_deltas WHERE user_id = p_user), 0)::bigint;
END;
$$;

--
-- Name: webhook_claim(integer, double precision, integer); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.webhook_claim(p_per_endpoint integer, p_lease_seconds double precision, p_max integer) RETURNS TABLE(delivery_id uuid, endpoint_id uuid, url text, message_id text, body text, attempt integer, retry_step integer, lease timestamp with time zone, secrets text[])
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_now timestamptz := now();
    v_lease timestamptz := clock_timestamp() + make_interval(secs => p_lease_seconds);
    v_ids uuid[];
    v_id uuid;
    v_endpoint webhook_endpoints;
    v_left integer := p_max;
    v_taken integer;
BEGIN
    -- The endpoints with something due that no other claim holds, locked until commit. (Their
    -- ids: Citus cannot pass rows of a CTE, an anonymous composite type, back from a worker.)
    WITH e AS MATERIALIZED (
        SELECT w.id FROM webhook_endpoints w
        WHERE w.enabled AND EXISTS (
            SELECT 1 FROM webhook_deliveries d WHERE d.endpoint_id = w.id AND d.status = 'pending' AND d.next_attempt_at <= v_now)
        FOR NO KEY UPDATE OF w SKIP LOCKED
    )
    SELECT array_agg(e.id) INTO v_ids FROM e;
    FOREACH v_id IN ARRAY coalesce(v_ids, '{}') LOOP
        EXIT WHEN v_left <= 0;
        SELECT * INTO v_endpoint FROM webhook_endpoints w WHERE w.id = v_id;
        RETURN QUERY SELECT * FROM webhook_lease(v_endpoint, v_left, p_per_endpoint, v_now, v_lease);
        GET DIAGNOSTICS v_taken = ROW_COUNT;
        v_left := v_left - v_taken;
    END LOOP;
END
$$;

--
-- Name: webhook_claim_endpoint(uuid, integer, double precision, integer); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.webhook_claim_endpoint(p_endpoint uuid, p_per_endpoint integer, p_lease_seconds double precision, p_max integer) RETURNS TABLE(delivery_id uuid, endpoint_id uuid, url text, message_id text, body text, attempt integer, retry_step integer, lease timestamp with time zone, secrets text[])
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_endpoint webhook_endpoints;
    v_now timestamptz;
BEGIN
    SELECT * INTO v_endpoint FROM webhook_endpoints w WHERE w.id = p_endpoint AND w.enabled FOR NO KEY UPDATE;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    -- Taken after the lock: another claim that held it has committed its leases.
    v_now := clock_timestamp();
    RETURN QUERY SELECT * FROM webhook_lease(v_endpoint, p_max, p_per_endpoint, v_now, v_now + make_interval(secs => p_lease_seconds));
END
$$;

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
    CONSTRAINT webhook_endpoints_description_check CHECK ((char_length(description) <= 500)),
    CONSTRAINT webhook_endpoints_disabled_reason_check CHECK ((char_length(disabled_reason) <= 500)),
    CONSTRAINT webhook_endpoints_event_types_check CHECK (((cardinality(event_types) >= 1) AND (cardinality(event_types) <= 20))),
    CONSTRAINT webhook_endpoints_url_check CHECK (((char_length(url) >= 1) AND (char_length(url) <= 2000)))
)
WITH (autovacuum_vacuum_threshold='1000', autovacuum_analyze_threshold='1000');

--
-- Name: webhook_lease(@SCHEMA@.webhook_endpoints, integer, integer, timestamp with time zone, timestamp with time zone); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.webhook_lease(p_endpoint @SCHEMA@.webhook_endpoints, p_max integer, p_per_endpoint integer, p_now timestamp with time zone, p_lease timestamp with time zone) RETURNS TABLE(delivery_id uuid, endpoint_id uuid, url text, message_id text, body text, attempt integer, retry_step integer, lease timestamp with time zone, secrets text[])
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_room integer;
BEGIN
    v_room := least(p_max, p_per_endpoint - (
        SELECT count(*) FROM webhook_deliveries x
        WHERE x.endpoint_id = p_endpoint.id AND x.lease_until IS NOT NULL AND x.lease_until >= p_now));
    IF v_room <= 0 THEN
        RETURN;
    END IF;
    RETURN QUERY
    UPDATE webhook_deliveries d SET lease_until = p_lease, attempts = d.attempts + 1
    WHERE d.id IN (
            SELECT x.id FROM webhook_deliveries x
            WHERE x.endpoint_id = p_endpoint.id AND x.status = 'pending' AND x.next_attempt_at <= p_now
              AND (x.lease_until IS NULL OR x.lease_until < p_now)
            ORDER BY x.next_attempt_at, x.event_pos
            LIMIT v_room)
      -- Checked again on the row as it is now (a record or a redelivery may have just changed it).
      AND d.status = 'pending' AND (d.lease_until IS NULL OR d.lease_until < p_now)
    RETURNING d.id, p_endpoint.id, p_endpoint.url, d.message_id, d.body, d.attempts, d.retry_step, d.lease_until,
              array_remove(ARRAY[p_endpoint.secret,
                                 CASE WHEN p_endpoint.previous_secret_expires_at > p_now THEN p_endpoint.previous_secret END], NULL);
END
$$;

--
-- Name: webhook_record(uuid, timestamp with time zone, timestamp with time zone, integer, integer, text, text, double precision, double precision, double precision); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.webhook_record(p_delivery uuid, p_lease timestamp with time zone, p_started timestamp with time zone, p_status integer, p_latency_ms integer, p_error text, p_response text, p_retry_in double precision, p_disable_after double precision, p_streak_gap double precision) RETURNS text
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_delivery webhook_deliveries%ROWTYPE;
    v_endpoint webhook_endpoints%ROWTYPE;
    v_ok boolean := p_status BETWEEN 200 AND 299;
    v_reason text;
    -- Values computed here, not in the statements: Citus refuses volatile functions in an UPDATE
    -- of a distributed table, and anything not immutable (timestamptz arithmetic) inside CASE
    -- (decision 0032).
    v_now timestamptz := clock_timestamp();
    v_next timestamptz;
    v_gap_start timestamptz := p_started - make_interval(secs => p_streak_gap);
    v_body text;
BEGIN
    -- A failure may change the endpoint (its streak, disabling): lock it first, as every other
    -- writer of both does. A success writes only the delivery, so it never holds the endpoint
    -- (the next claim for it would skip it meanwhile).
    IF NOT v_ok THEN
        PERFORM 1 FROM webhook_endpoints
        WHERE id = (SELECT endpoint_id FROM webhook_deliveries WHERE id = p_delivery) FOR NO KEY UPDATE;
    END IF;
    SELECT * INTO v_delivery FROM webhook_deliveries
    WHERE id = p_delivery AND lease_until = p_lease AND status = 'pending' FOR UPDATE;
    IF NOT FOUND THEN
        RETURN 'stale';
    END IF;
    INSERT INTO webhook_attempts (delivery_id, attempt, started_at, status, latency_ms, error, response)
    VALUES (p_delivery, v_delivery.attempts, p_started, p_status, p_latency_ms, left(p_error, 1000), left(p_response, 1000))
    ON CONFLICT (delivery_id, attempt) DO NOTHING;
    IF NOT (v_ok OR p_retry_in IS NULL OR p_status = 410) THEN
        v_next := v_now + make_interval(secs => p_retry_in);
    END IF;
    UPDATE webhook_deliveries SET
        status = CASE WHEN v_ok THEN 'succeeded' WHEN p_retry_in IS NULL OR p_status = 410 THEN 'failed' ELSE 'pending' END,
        retry_step = retry_step + 1,
        next_attempt_at = v_next,
        lease_until = NULL,
        last_attempt_at = p_started, last_status = p_status, last_error = left(p_error, 1000), last_latency_ms = p_latency_ms,
        updated_at = v_now
    WHERE id = p_delivery;

    IF v_ok THEN
        -- Ends a failing streak without waiting for the endpoint's lock (so never in the
        -- opposite order of the other writers); if it is held, the next success ends it.
        UPDATE webhook_endpoints SET failing_since = NULL
        WHERE id = (SELECT w.id FROM webhook_endpoints w
                    WHERE w.id = v_delivery.endpoint_id AND w.failing_since IS NOT NULL FOR NO KEY UPDATE SKIP LOCKED);
        RETURN 'succeeded';
    END IF;
    UPDATE webhook_endpoints SET
        failing_since = CASE WHEN failing_since IS NULL OR last_failed_at < v_gap_start THEN p_started ELSE failing_since END,
        last_failed_at = p_started
    WHERE id = v_delivery.endpoint_id RETURNING * INTO v_endpoint;
    IF p_status = 410 THEN
        v_reason := 'the endpoint answered 410 Gone';
    ELSIF v_endpoint.enabled AND v_endpoint.failing_since <= v_now - make_interval(secs => p_disable_after) THEN
        v_reason := 'every attempt failed since ' || to_char(v_endpoint.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"');
    END IF;
    IF v_reason IS NULL OR NOT v_endpoint.enabled THEN
        RETURN CASE WHEN p_retry_in IS NULL OR p_status = 410 THEN 'failed' ELSE 'retrying' END;
    END IF;
    UPDATE webhook_endpoints SET enabled = false, disabled_reason = v_reason, updated_at = v_now
    WHERE id = v_endpoint.id;
    v_body := json_build_object(
        'type', 'webhook.disabled',
        'timestamp', to_char(v_now AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
        'data', json_build_object('endpointId', v_endpoint.id, 'url', v_endpoint.url, 'reason', v_reason,
                                  'failingSince', to_char(v_endpoint.failing_since AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"')))::text;
    INSERT INTO webhook_deliveries (endpoint_id, event_type, body)
    SELECT w.id, 'webhook.disabled', v_body
    FROM webhook_endpoints w
    WHERE w.enabled AND w.id <> v_endpoint.id AND 'webhook.disabled' = ANY (w.event_types);
    RETURN 'disabled';
END;
$$;

--
-- Name: webhook_schedule(integer); Type: FUNCTION; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE FUNCTION @SCHEMA@.webhook_schedule(p_limit integer DEFAULT 1000) RETURNS integer
    LANGUAGE plpgsql
    AS $$
DECLARE
    v_head bigint;
    v_endpoint record;
    v_through bigint;
    v_count integer;
    v_total integer := 0;
BEGIN
    v_head := (SELECT position FROM event_clock);
    FOR v_endpoint IN
        SELECT id, enabled, event_types, scan_position FROM webhook_endpoints
        WHERE scan_position < v_head
        ORDER BY id FOR NO KEY UPDATE SKIP LOCKED
    LOOP
        IF NOT v_endpoint.enabled THEN
            UPDATE webhook_endpoints SET scan_position = v_head WHERE id = v_endpoint.id;
            CONTINUE;
        END IF;
        v_through := least(v_head, v_endpoint.scan_position + p_limit);
        INSERT INTO webhook_deliveries (endpoint_id, event_pos, event_type, body)
        SELECT v_endpoint.id, e.pos, e.type,
               json_build_object(
                   'type', e.type,
                   'timestamp', to_char(e.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.MS"Z"'),
                   'data', e.data)::text
        FROM events e
        WHERE e.pos > v_endpoint.scan_position AND e.pos <= v_through AND e.type = ANY (v_endpoint.event_types)
        ORDER BY e.pos;
        GET DIAGNOSTICS v_count = ROW_COUNT;
        v_total := v_total + v_count;
        UPDATE webhook_endpoints SET scan_position = v_through WHERE id = v_endpoint.id;
    END LOOP;
    RETURN v_total;
END;
$$;

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
    joined_at timestamp with time zone DEFAULT now() NOT NULL
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

CREATE INDEX chat_requests_pending_age ON @SCHEMA@.chat_requests USING btree (created_at) WHERE (status = 'pending'::text);

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
-- Name: session_members_user; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX session_members_user ON @SCHEMA@.session_members USING btree (user_id, session_id);

--
-- Name: sessions_activity; Type: INDEX; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE INDEX sessions_activity ON @SCHEMA@.sessions USING btree (last_activity_at DESC, id DESC);

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
-- Name: attachments attachments_bytes; Type: TRIGGER; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TRIGGER attachments_bytes AFTER INSERT OR DELETE OR UPDATE OF size ON @SCHEMA@.attachments FOR EACH ROW EXECUTE FUNCTION @SCHEMA@.track_attachment_bytes();

--
-- Name: messages messages_count_terms; Type: TRIGGER; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TRIGGER messages_count_terms AFTER INSERT ON @SCHEMA@.messages FOR EACH ROW EXECUTE FUNCTION @SCHEMA@.count_session_terms();

--
-- Name: messages messages_search_vectors; Type: TRIGGER; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TRIGGER messages_search_vectors BEFORE INSERT OR UPDATE OF text, listing, search, search_long ON @SCHEMA@.messages FOR EACH ROW EXECUTE FUNCTION @SCHEMA@.message_search_vectors();

--
-- Name: session_members session_members_badge; Type: TRIGGER; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TRIGGER session_members_badge AFTER INSERT OR DELETE OR UPDATE OF last_read_seq, marked_unread ON @SCHEMA@.session_members FOR EACH ROW EXECUTE FUNCTION @SCHEMA@.badge_member_changed();

--
-- Name: sessions sessions_badge; Type: TRIGGER; Schema: @SCHEMA@; Owner: @ROLE@
--

CREATE TRIGGER sessions_badge AFTER UPDATE OF last_seq, status ON @SCHEMA@.sessions FOR EACH ROW EXECUTE FUNCTION @SCHEMA@.badge_session_changed();

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

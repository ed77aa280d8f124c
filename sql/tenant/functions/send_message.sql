-- The whole send in one round trip (docs/decisions/0007-one-round-trip-send.md), called inside
-- the tenant-scoped transaction, as the tenant's role.
--
-- Outcomes: 'not_found' (no session, or the sender is not a member); 'existing' (this sender
-- already stored a message under this client id: that one is returned); 'closed';
-- 'attachments_unavailable' (an id is not a ready, unused upload of this sender in this
-- session — checked, and locked, before anything is written); 'shared' (the session has copies
-- in other brokerages and `p_shared` is false: nothing was written, `peers` names them, and the
-- caller sends again in a transaction that writes every copy, decision 0028); or 'created'.
-- With `p_shared`, a created message is also left in the transaction-local setting
-- `parley.mirror` for mirror_pending_message(), which writes it into the other copies in the
-- same transaction.
-- `message` is message_json() — the same object the message.created event carries;
-- `members` maps each member to their read position after the send.
--
-- SET plan_cache_mode = force_generic_plan: each statement in here (and in the triggers its
-- writes fire) is planned once per backend and brokerage, not five times with the values of the
-- call before PostgreSQL settles on the generic plan; every statement looks rows up by key, so
-- the generic plan is the plan (decision 0044).
--
-- The result row changed shape once (it had one column per field): drop the old one first.
DROP FUNCTION IF EXISTS send_message(uuid, text, text, text, text, text, jsonb, uuid[]);
DROP FUNCTION IF EXISTS send_message(uuid, text, text, text, text, text, jsonb, uuid[], boolean);
CREATE FUNCTION send_message(
    p_session uuid, p_sender text, p_client_id text, p_text text, p_html text, p_preview text, p_listing jsonb,
    p_attachments uuid[], p_shared boolean DEFAULT false
) RETURNS TABLE (outcome text, message jsonb, members jsonb, peers jsonb)
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan AS $$
#variable_conflict use_column
DECLARE
    -- The transaction's time as a value: Citus refuses now() inside CASE (decision 0032).
    v_now timestamptz;
    v_status text;
    v_session_json jsonb;
    v_last_seq bigint;
    v_peers text[];
    v_members jsonb;
    v_message messages%ROWTYPE;
    v_sender users%ROWTYPE;
    v_recipients text[];
    v_archived text[];
    v_usable integer;
    v_refused text;
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
    -- A send passes one condition here and one after the next statement, each ending in two
    -- outcomes: every condition a send evaluates is a plan that each backend keeps per brokerage
    -- (decision 0046), while a branch's own statements are planned only if it ever runs.
    -- No session for this sender (`status` is never NULL in a row), or a shared session that
    -- this send may not write alone:
    IF v_status IS NULL OR (cardinality(v_peers) > 0 AND NOT p_shared) THEN
        IF v_status IS NULL THEN
            RETURN QUERY SELECT 'not_found'::text, NULL::jsonb, NULL::jsonb, NULL::jsonb;
        ELSE
            RETURN QUERY SELECT 'shared'::text, NULL::jsonb, NULL::jsonb, to_jsonb(v_peers);
        END IF;
        RETURN;
    END IF;

    -- Everything else the send needs, in one statement (one executor start, not four; issue 15):
    -- every member's read position (read after the lock, so a member added meanwhile is here),
    -- the other members who have archived the session (this message brings it back for them),
    -- the fields of the sender that message_json() shows, and the time.
    SELECT a.members, a.recipients, a.archived, u.id, u.display_name, u.role, now()
    INTO v_members, v_recipients, v_archived, v_sender.id, v_sender.display_name, v_sender.role, v_now
    FROM (SELECT jsonb_object_agg(r.user_id, r.last_read_seq) AS members, array_agg(r.user_id) AS recipients,
                 array_agg(r.user_id) FILTER (WHERE r.archived_at IS NOT NULL AND r.user_id <> p_sender) AS archived
          FROM session_members r WHERE r.session_id = p_session) AS a
    LEFT JOIN users u ON u.id = p_sender;

    -- A closed session takes no message, and an upload that is not a ready, unused file of this
    -- sender in this session is refused (its rows stay locked to the end of the transaction):
    -- nothing is written, unless the send is a retry of a message stored before (below).
    IF v_status = 'closed' THEN
        v_refused := 'closed';
    ELSIF cardinality(p_attachments) > 0 THEN
        SELECT count(*) INTO v_usable FROM (
            SELECT 1 FROM attachments a
            WHERE a.id = ANY (p_attachments) AND a.session_id = p_session AND a.uploader_id = p_sender
              AND a.state = 'ready' AND a.message_id IS NULL
            FOR UPDATE OF a) AS usable;
        IF v_usable <> (SELECT count(DISTINCT x) FROM unnest(p_attachments) AS x) OR
           cardinality(p_attachments) <> (SELECT count(DISTINCT x) FROM unnest(p_attachments) AS x) THEN
            v_refused := 'attachments_unavailable';
        END IF;
    END IF;

    -- The message first, before anything else is written (none, if the send was refused): a
    -- retry of one this sender stored under the same client id conflicts on that key, and then
    -- nothing is written. The key finds it, whatever the plan: a lookup planned in a new
    -- brokerage, on empty tables, walked the session's whole history instead, and the backend
    -- kept that plan (decision 0052).
    IF v_refused IS NULL THEN
        INSERT INTO messages (session_id, seq, sender_id, client_message_id, text, html, listing)
        VALUES (p_session, v_last_seq + 1, p_sender, p_client_id, p_text, p_html, p_listing)
        ON CONFLICT (session_id, sender_id, client_message_id) DO NOTHING
        RETURNING * INTO v_message;
    END IF;
    IF v_message.id IS NULL THEN
        -- Refused, or a retry: the stored message, if there is one, is the answer. Rare, so this
        -- lookup is planned at each call (EXECUTE), for the tables as they are then: a plan kept
        -- from a young brokerage's first retry could walk the session's history as above.
        EXECUTE 'SELECT * FROM messages e WHERE e.session_id = $1 AND e.sender_id = $2 AND e.client_message_id = $3'
            INTO v_message USING p_session, p_sender, p_client_id;
        IF v_message.id IS NOT NULL THEN
            RETURN QUERY SELECT 'existing'::text, message_json(v_message, v_sender), v_members, NULL::jsonb;
        ELSIF v_refused IS NOT NULL THEN
            RETURN QUERY SELECT v_refused, NULL::jsonb, v_members, NULL::jsonb;
        ELSE
            -- The conflicting message was there for the insert and is gone for the lookup: a
            -- deletion in between (retention). Contention: the client is told to retry (503).
            RAISE EXCEPTION 'message % of session % changed during the send', p_client_id, p_session
                USING ERRCODE = 'serialization_failure';
        END IF;
        RETURN;
    END IF;

    -- The sender has read their own message: their read position moves to the new seq first,
    -- so the badge triggers (migration 014) see the sender's membership already caught up and
    -- write a difference for the other members only.
    UPDATE session_members r SET last_read_seq = v_last_seq + 1, marked_unread = false
    WHERE r.session_id = p_session AND r.user_id = p_sender;

    UPDATE sessions s SET last_seq = s.last_seq + 1, last_message_at = v_now, last_activity_at = v_now,
        last_message_preview = p_preview, last_sender_id = p_sender
    WHERE s.id = p_session
    RETURNING s.last_seq INTO v_last_seq;

    IF cardinality(p_attachments) > 0 THEN
        UPDATE attachments a SET message_id = v_message.id, position = x.ord
        FROM unnest(p_attachments) WITH ORDINALITY AS x(id, ord)
        WHERE a.id = x.id;
    END IF;

    -- The result is built in the output columns themselves (`members`, `message`; `peers` stays
    -- NULL): each assignment is one more statement that every backend plans and keeps per
    -- brokerage (decision 0046).
    members := v_members || jsonb_build_object(p_sender, v_last_seq);
    message := message_json(v_message, v_sender, CASE WHEN cardinality(p_attachments) > 0 THEN NULL ELSE '[]'::jsonb END);

    -- Archiving is each member's own (decision 0061): a message brings the session back to the
    -- list and badge of every other member who archived it (the sender's own archive stays).
    -- Their apps hear of it as of any status change (docs/STREAM.md), the same object
    -- SessionStore announces (session_json(), as mirror_message() does in another brokerage's
    -- copy); the session is active for them now. The member trigger writes their badge
    -- differences against the session as this send left it.
    IF v_archived IS NOT NULL THEN
        UPDATE session_members r SET archived_at = NULL WHERE r.session_id = p_session AND r.user_id = ANY (v_archived);
        v_session_json := session_json(p_session, p_sender);
    END IF;

    -- The send's events in one statement, in this order (the outbox numbers them by id): the
    -- message, and the session made active again for those who had archived it, if any. The members whose badge the send
    -- changed get their badge.updated from sequence_events(), which folds the badge differences
    -- the triggers wrote and announces each user it folded for (decision 0043).
    INSERT INTO event_outbox (type, session_id, recipients, data)
    SELECT 'message.created', p_session, v_recipients, message
    UNION ALL
    SELECT 'session.updated', p_session, v_archived, v_session_json WHERE v_session_json IS NOT NULL;

    IF p_shared THEN
        PERFORM set_config('parley.mirror', jsonb_build_object(
            'id', v_message.id, 'session', p_session, 'seq', v_message.seq, 'sender', p_sender,
            'clientId', p_client_id, 'text', p_text, 'html', p_html, 'preview', p_preview, 'listing', p_listing,
            'createdAt', v_message.created_at::text, 'attachments', cardinality(p_attachments))::text, true);
    END IF;

    -- The result row from the output columns (RETURN NEXT), not a query: one executor start less.
    outcome := 'created';
    RETURN NEXT;
END;
$$;

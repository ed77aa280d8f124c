-- Numbers committed events: moves them from event_outbox into events in id order, with
-- positions continuing from event_clock.position (docs/decisions/0012-event-positions.md,
-- 0024-event-outbox.md). Returns the last position.
--
-- The clock row stays locked until the calling transaction commits, so sequencers of one
-- brokerage run one after another and each sees every row the previous one numbered: a reader
-- that sees position n sees every position below it. Events still being written are invisible
-- here and get the next run's positions; nothing waits for them (the outbox only ever gets
-- inserts from writers, so the DELETE here never waits for one). Cheap when there is nothing
-- to do: a look at the outbox and the badge differences, no lock, no write.
--
-- badge.updated events get their counts here (what unread_messages() and pending_requests()
-- count: the kept counts, folded by the same statement), in that statement's snapshot (taken
-- after the lock): it sees every change committed before it, and a change committed later
-- announces a badge that a later run numbers and counts. So the last badge a user receives is
-- exact.
--
-- The differences folded here also say whose badge changed: each such user gets a badge.updated
-- in this run, after the batch's events, unless the batch has one for them already (decision
-- 0043). A send writes no badge.updated of its own: its triggers' differences announce it.
--
-- Generic plans from the first call, as send_message() (decision 0044).
--
-- Every table here is read through an index, never scanned whole (decision 0047): the clock is
-- one row updated by every run and the two queues are emptied by every run, so between two
-- autovacuum visits they hold thousands of dead row versions and keep the pages those needed
-- (the queues are never truncated, decision 0025). A sequential scan reads all of them at every
-- run — under a steady send load the numbering read ~340 blocks instead of ~50 a minute after
-- a vacuum, and sends fell from ~700 to ~400 a second until autovacuum came by — while an index
-- scan marks the dead entries it meets and skips them from then on. The planner would pick the
-- whole-table scan for tables as small as a new brokerage's, and the generic plan keeps it, so
-- sequential and bitmap scans are off here; JIT too, which the cost of a disabled scan path
-- would otherwise switch on (a run then compiles for ~90 ms).
CREATE OR REPLACE FUNCTION sequence_events(p_limit integer DEFAULT 10000) RETURNS bigint
LANGUAGE plpgsql SET plan_cache_mode = force_generic_plan
SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$
DECLARE
    v_last bigint;
    v_count bigint;
    v_newest bigint;
BEGIN
    -- Anything to do? The newest event: the outbox's index keeps the entries of the rows
    -- numbered since autovacuum last came by at its low end (ids only grow, and nothing is
    -- inserted there to clean those pages), and a look from the high end stops at the first
    -- event waiting, not after all of them (decision 0053).
    --
    -- Differences with no event waiting are something to do too: a membership or a session
    -- changed by SQL writes its differences and no event, and a run that returned here left
    -- them unfolded and the user's stream unaware of its new count until the brokerage's next
    -- event, however late (the kept count stayed off meanwhile; GET /v1/badge added them).
    -- Whether any is left is a look from the index's low end: the table is emptied by every
    -- run below, so it steps over the entries of the rows folded since autovacuum's last visit
    -- (at most its threshold, migration 017), marked dead by the first look.
    SELECT max(id) INTO v_newest FROM event_outbox;
    IF v_newest IS NULL AND NOT EXISTS (SELECT FROM badge_deltas WHERE user_id IS NOT NULL) THEN
        RETURN (SELECT position FROM event_clock WHERE singleton);
    END IF;
    SELECT position INTO STRICT v_last FROM event_clock WHERE singleton FOR UPDATE;
    -- One statement from here, so one snapshot, taken after the lock: it sees what the previous
    -- lock holder numbered and folded. It folds the badge differences committed so far into the
    -- kept counts (migration 014; one folder at a time, under the clock; a count read meanwhile
    -- adds what is not folded yet) and numbers the events committed so far. A writer's
    -- differences and its events commit together, so a difference this statement does not see
    -- belongs to events it does not number either, and the run that numbers them folds it: the
    -- counts below need no look at the differences left (decision 0050). Agents of other
    -- brokerages ('@…') have their badge in their own brokerage. `user_id IS NOT NULL` is every
    -- row (the column is NOT NULL); it is what lets the index on user_id serve the delete.
    WITH folded AS (DELETE FROM badge_deltas WHERE user_id IS NOT NULL RETURNING user_id, delta),
    summed AS MATERIALIZED (SELECT user_id, sum(delta) AS delta FROM folded GROUP BY user_id),
    kept AS (
        -- The new counts of the users folded now (the statement's own snapshot still has the
        -- old ones).
        INSERT INTO badge_counts AS b (user_id, unread)
        SELECT user_id, delta FROM summed
        ON CONFLICT (user_id) DO UPDATE SET unread = b.unread + EXCLUDED.unread
        RETURNING b.user_id, b.unread
    ), kept_by_user AS (
        -- One object, looked up per user below: a join of the batch's users to `kept` could be
        -- planned as a nested loop over the two (the generic plan is made while the outbox looks
        -- empty), quadratic for a backlog: 3,000 users took 0.6 s.
        SELECT jsonb_object_agg(user_id, unread) AS unread FROM kept
    ), oldest AS MATERIALIZED (
        -- The oldest event waiting, read once, and the scans below start there: this one steps
        -- over the entries of the rows numbered since autovacuum's last visit, the others go
        -- straight to it (decision 0049). In this statement's snapshot: read in a statement of
        -- its own before the clock's lock, it could miss an event that committed meanwhile with
        -- a smaller id, and then the same session's next message, committed later still, was
        -- numbered before it (decision 0053).
        SELECT min(id) AS id FROM event_outbox
    ), todo AS MATERIALIZED (
        -- The first p_limit rows, as a range up to the last of them: the bound is computed
        -- once. `id IN (… LIMIT p_limit)` was planned as a semi join that re-ran the LIMIT
        -- for every row (the outbox is never analyzed, so it looks empty): quadratic, 11 s
        -- for a backlog of 8,000 under a send load.
        DELETE FROM event_outbox
        WHERE id >= (SELECT id FROM oldest)
          AND id <= (SELECT max(id) FROM (SELECT id FROM event_outbox WHERE id >= (SELECT id FROM oldest) ORDER BY id LIMIT p_limit) AS head)
        RETURNING id, type, session_id, recipients, data, created_at
    ), announced AS (
        -- Users whose folded differences changed their count and that the batch does not
        -- announce already (EXCEPT: a hash or a sort, never a probe of the batch per user).
        SELECT user_id FROM summed WHERE delta <> 0 AND user_id NOT LIKE '@%'
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
        -- The two counts are what unread_messages() and pending_requests() count, written out:
        -- on Citus (decision 0032) this statement runs on the worker, where it may not call
        -- functions that query tables, and here each call was a function call of its own with
        -- its settings set and restored. The unread count is the one just folded, or the kept one
        -- of a user not folded now; the differences left are no one's yet (above). OFFSET 0 keeps
        -- the subquery from being pulled up into the query above, where each count would be
        -- evaluated twice, for `unreadMessages` and again for `total` (decision 0048). Read
        -- through their indexes, as the function's settings above require (the pending count
        -- through chat_requests_agent: migration 024, decision 0052).
        CROSS JOIN LATERAL (
            SELECT coalesce(((SELECT k.unread FROM kept_by_user k) ->> u.id)::bigint,
                            (SELECT k.unread FROM badge_counts k WHERE k.user_id = u.id), 0) AS unread,
                   (SELECT count(*) FROM chat_requests r WHERE r.agent_id = u.id AND r.status = 'pending') AS pending
            OFFSET 0) AS b
    )
    INSERT INTO events (pos, type, session_id, recipients, data, created_at)
    SELECT v_last + n, type, session_id, recipients,
           CASE WHEN type = 'badge.updated'
                THEN coalesce((SELECT by_user FROM counted) -> recipients[1], data)
                ELSE data END,
           created_at
    FROM numbered ORDER BY n;
    GET DIAGNOSTICS v_count = ROW_COUNT;
    UPDATE event_clock SET position = v_last + v_count WHERE singleton;
    RETURN v_last + v_count;
END;
$$;

-- The badge's first count: unread messages of one user in their active sessions, kept as
-- they change (migration 014): the folded count plus the differences not folded yet, in one
-- snapshot. O(1) however many sessions the user has.
--
-- PL/pgSQL, not SQL: this body has subqueries, so PostgreSQL 15 does not inline it and plans
-- it again on every call of a SQL function — 0.30–0.34 ms a call, ~1.9 calls in each 1.7 ms
-- sequence_events() under parley-bench's 200 msgs/s (pg_stat_user_functions). PL/pgSQL keeps the plan for
-- the backend's life. STABLE: its statements run in the caller's snapshot, as before.
--
-- Both lookups go through their index, never a whole-table or bitmap scan: the kept row is
-- updated at every fold and the differences are deleted at every fold, so both tables carry
-- dead versions until autovacuum comes by, which a plain index scan marks and then skips
-- (decision 0047). sequence_events() counts the same, written out (decision 0048): a change
-- to what this counts is made there too.
CREATE OR REPLACE FUNCTION unread_messages(p_user text) RETURNS bigint
LANGUAGE plpgsql STABLE SET enable_seqscan = off SET enable_bitmapscan = off SET jit = off AS $$
BEGIN
    RETURN coalesce((SELECT unread FROM badge_counts WHERE user_id = p_user), 0)
         + coalesce((SELECT sum(delta) FROM badge_deltas WHERE user_id = p_user), 0)::bigint;
END;
$$;

-- The badge's second count: chat requests waiting for this agent's answer.
--
-- PL/pgSQL for its kept plan, as unread_messages(): as a SQL function it was planned on every
-- call (0.2 ms, on an empty table). sequence_events() counts the same, written out (decision
-- 0048): a change to what this counts is made there too.
CREATE OR REPLACE FUNCTION pending_requests(p_user text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- `BETWEEN 'pending' AND 'pending'`, not `= 'pending'`: the same rows, but it does not imply
    -- the predicate of chat_requests_pending_age (every pending request of the brokerage, by
    -- age). Planned on an empty table, the count walked that index and filtered the agent, and
    -- the plan was kept while the requests piled up (decision 0052). Now only the agent's own
    -- index, chat_requests_agent (agent_id, status, …), can serve it.
    RETURN (SELECT count(*) FROM chat_requests WHERE agent_id = p_user AND status BETWEEN 'pending' AND 'pending');
END;
$$;

-- The badge's second count: chat requests waiting for this agent's answer.
--
-- PL/pgSQL for its kept plan, as unread_messages(): as a SQL function it was planned on every
-- call (0.2 ms, on an empty table). sequence_events() counts the same, written out (decision
-- 0048): a change to what this counts is made there too.
CREATE OR REPLACE FUNCTION pending_requests(p_user text) RETURNS bigint
LANGUAGE plpgsql STABLE AS $$
BEGIN
    -- Through chat_requests_agent (agent_id, status, …): the age index is not for this count
    -- (migration 024, decision 0052).
    RETURN (SELECT count(*) FROM chat_requests WHERE agent_id = p_user AND status = 'pending');
END;
$$;

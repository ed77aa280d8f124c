-- The badge's second count: chat requests waiting for this agent's answer.
CREATE OR REPLACE FUNCTION pending_requests(p_user text) RETURNS bigint
LANGUAGE sql STABLE AS $$
    SELECT count(*) FROM chat_requests WHERE agent_id = p_user AND status = 'pending'
$$;

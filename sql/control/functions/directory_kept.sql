-- An integration's record as it is stored over `p_stored`: every field from `p_incoming`, except
-- the fields the agent set themselves (`p_fields`, migration 009), which keep their stored
-- values, absent ones staying absent (decision 0060).
CREATE OR REPLACE FUNCTION parley.directory_kept(p_incoming jsonb, p_stored jsonb, p_fields text[]) RETURNS jsonb
LANGUAGE sql IMMUTABLE PARALLEL SAFE
AS $$
    SELECT (p_incoming - p_fields)
        || coalesce((SELECT jsonb_object_agg(k, p_stored -> k) FROM unnest(p_fields) AS k WHERE p_stored ? k), '{}'::jsonb)
$$;

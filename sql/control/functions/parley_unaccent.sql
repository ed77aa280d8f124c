-- unaccent() is STABLE (its dictionary could change); indexes and generated columns need
-- IMMUTABLE. The dictionary is fixed here, so the wrapper may promise it. Shared by every
-- brokerage (schema public; tenant roles reach it through search_path "t_<slug>, public").
CREATE OR REPLACE FUNCTION public.parley_unaccent(text) RETURNS text
LANGUAGE sql IMMUTABLE PARALLEL SAFE STRICT
AS $$ SELECT public.unaccent('public.unaccent'::regdictionary, $1) $$;

-- Shared text search pieces, installed once per database in schema public (tenant roles use
-- them through search_path "t_<slug>, public"). unaccent and pg_trgm are trusted extensions
-- shipped with PostgreSQL (Debian: postgresql-contrib).
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;

-- public.parley_unaccent(): sql/control/functions/parley_unaccent.sql.

-- English stemming ("showing" → show, "houses" → house) after removing accents ("café" → cafe).
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_ts_config c JOIN pg_namespace n ON n.oid = c.cfgnamespace
                   WHERE c.cfgname = 'parley_search' AND n.nspname = 'public') THEN
        CREATE TEXT SEARCH CONFIGURATION public.parley_search (COPY = pg_catalog.english);
        ALTER TEXT SEARCH CONFIGURATION public.parley_search
            ALTER MAPPING FOR hword, hword_part, word WITH public.unaccent, english_stem;
    END IF;
END
$$;

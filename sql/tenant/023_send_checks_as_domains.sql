-- The checks of the columns a send writes become domains (docs/decisions/0042-send-checks-as-domains.md).
--
-- PostgreSQL 15 reads a table's CHECK constraints back from their catalog text, plans and
-- compiles them at the start of every statement that inserts or updates a row of the table —
-- every check of the table, whichever columns the statement sets. A send inserts a message and
-- its events and updates its session and the sender's membership: ten single-column checks,
-- a tenth of the send's CPU instructions (Benchmarks/send-instructions.sh). A domain's check
-- is planned once per backend (the type cache) and runs only where a value of the domain is
-- stored: on the columns a statement sets. The domains are shared by every brokerage (control
-- migration 008), under the names of the checks they replace.
--
-- Same rules, same constraint names, same SQLSTATE (23514, check_violation) for a bad value;
-- the message names the domain ("value for domain parley_session_status violates check
-- constraint "sessions_status_check"") instead of the table. sessions_check reads two columns
-- and stays a table check (~4,000 instructions a send).
--
-- A column that changes to a constrained domain is rewritten with its indexes (as the table
-- checks had held, every value passes): 8.4 s for a brokerage of 1,000,000 messages (decision
-- 0042). A send costs ~8 % fewer instructions. The rewritten tables have no visibility map and
-- their changed columns no statistics: `parley migrate` vacuums and analyzes them next.
-- parley:vacuum-after sessions, session_members, messages, event_outbox
--
-- Triggers on these tables and the reporting views, which PostgreSQL will not let a column
-- they name change type under, are dropped first: the triggers are created again at the end
-- from their own definitions, the views by the reporting step that follows every migration
-- (its ledger row is removed here).
DO $$
DECLARE
    v_schema oid := (SELECT n.oid FROM pg_namespace n WHERE n.nspname = current_schema());
    v_definitions text[] := '{}';
    r record;
BEGIN
    FOR r IN SELECT t.tgname, c.relname, pg_get_triggerdef(t.oid) AS definition
             FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid
             WHERE NOT t.tgisinternal AND c.relnamespace = v_schema
               AND c.relname IN ('sessions', 'session_members', 'messages', 'event_outbox')
             ORDER BY c.relname, t.tgname LOOP
        v_definitions := v_definitions || r.definition;
        EXECUTE format('DROP TRIGGER %I ON %I', r.tgname, r.relname);
    END LOOP;
    FOR r IN SELECT c.relname FROM pg_class c
             WHERE c.relnamespace = v_schema AND c.relkind = 'v' AND c.relname LIKE 'report\_%' LOOP
        EXECUTE format('DROP VIEW IF EXISTS %I CASCADE', r.relname);
    END LOOP;
    IF to_regclass('schema_reporting') IS NOT NULL THEN
        DELETE FROM schema_reporting;
    END IF;

    ALTER TABLE sessions
        DROP CONSTRAINT sessions_kind_check, ALTER COLUMN kind TYPE public.parley_session_kind,
        DROP CONSTRAINT sessions_status_check, ALTER COLUMN status TYPE public.parley_session_status;
    ALTER TABLE session_members
        DROP CONSTRAINT session_members_role_check, ALTER COLUMN role TYPE public.parley_member_role,
        DROP CONSTRAINT session_members_last_read_seq_check, ALTER COLUMN last_read_seq TYPE public.parley_read_seq;
    -- messages.text and .listing only where the message vectors computed from them are no longer
    -- generated columns (PostgreSQL will not let a column change type under one): one rewrite of
    -- the table. Where they still are — a brokerage being provisioned, or one last migrated
    -- before decision 0037 — functions/message_search_vectors.sql changes those two after it
    -- drops the expressions. On Citus, where the vectors stay generated (decision 0032), those
    -- two keep their table checks.
    IF EXISTS (SELECT 1 FROM pg_attribute a
               WHERE a.attrelid = 'messages'::regclass AND a.attname = 'search' AND a.attgenerated = '') THEN
        ALTER TABLE messages
            DROP CONSTRAINT messages_seq_check, ALTER COLUMN seq TYPE public.parley_message_seq,
            DROP CONSTRAINT messages_client_message_id_check, ALTER COLUMN client_message_id TYPE public.parley_client_message_id,
            DROP CONSTRAINT messages_text_check, ALTER COLUMN text TYPE public.parley_message_text,
            DROP CONSTRAINT messages_listing_check, ALTER COLUMN listing TYPE public.parley_listing;
    ELSE
        ALTER TABLE messages
            DROP CONSTRAINT messages_seq_check, ALTER COLUMN seq TYPE public.parley_message_seq,
            DROP CONSTRAINT messages_client_message_id_check, ALTER COLUMN client_message_id TYPE public.parley_client_message_id;
    END IF;
    ALTER TABLE event_outbox
        DROP CONSTRAINT event_outbox_type_check, ALTER COLUMN type TYPE public.parley_event_type,
        DROP CONSTRAINT event_outbox_recipients_check, ALTER COLUMN recipients TYPE public.parley_event_recipients;

    FOR i IN 1 .. cardinality(v_definitions) LOOP
        EXECUTE v_definitions[i];
    END LOOP;
END
$$;

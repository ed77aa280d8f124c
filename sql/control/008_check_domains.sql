-- The checks of the columns a send writes, as domains shared by every brokerage (decision 0042;
-- the columns take these types in tenant migration 023 and functions/message_search_vectors.sql).
-- A domain's check is planned once per backend; a table's CHECK constraints are read back from
-- their catalog text and planned again at the start of every statement that writes the table.
-- In schema public beside the text search pieces (migration 002), so that a column has the same
-- type in every brokerage: a statement prepared in one brokerage's scope runs in another's.
-- The constraint names are those of the table checks they replace.
DO $$
DECLARE
    v_domains text[][] := ARRAY[
        ['parley_session_kind', 'text', 'sessions_kind_check', $c$VALUE IN ('client', 'agent')$c$],
        ['parley_session_status', 'text', 'sessions_status_check', $c$VALUE IN ('active', 'closed', 'archived')$c$],
        ['parley_member_role', 'text', 'session_members_role_check', $c$VALUE IN ('agent', 'client')$c$],
        ['parley_read_seq', 'bigint', 'session_members_last_read_seq_check', $c$VALUE >= 0$c$],
        ['parley_message_seq', 'bigint', 'messages_seq_check', $c$VALUE > 0$c$],
        ['parley_client_message_id', 'text', 'messages_client_message_id_check', $c$char_length(VALUE) BETWEEN 1 AND 100$c$],
        ['parley_message_text', 'text', 'messages_text_check', $c$char_length(VALUE) <= 10000$c$],
        ['parley_listing', 'jsonb', 'messages_listing_check', $c$jsonb_typeof(VALUE) = 'object'$c$],
        ['parley_event_type', 'text', 'event_outbox_type_check', $c$VALUE ~ '^[a-z]+\.[a-z_]+$'$c$],
        ['parley_event_recipients', 'text[]', 'event_outbox_recipients_check', $c$cardinality(VALUE) > 0$c$]];
BEGIN
    FOR i IN 1 .. array_length(v_domains, 1) LOOP
        IF to_regtype('public.' || v_domains[i][1]) IS NULL THEN
            EXECUTE format('CREATE DOMAIN public.%I AS %s CONSTRAINT %I CHECK (%s)',
                           v_domains[i][1], v_domains[i][2], v_domains[i][3], v_domains[i][4]);
        END IF;
    END LOOP;
END
$$;

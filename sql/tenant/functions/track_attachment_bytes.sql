-- Storage quota accounting (docs/decisions/0017-storage-quotas.md).
--
-- storage_usage.attachment_bytes follows sum(attachments.size) through every insert, growth
-- and delete, cascades included (a deleted session or message takes its files with it).
CREATE OR REPLACE FUNCTION track_attachment_bytes() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_delta bigint := CASE TG_OP WHEN 'INSERT' THEN NEW.size WHEN 'DELETE' THEN -OLD.size ELSE NEW.size - OLD.size END;
BEGIN
    IF v_delta <> 0 THEN
        UPDATE storage_usage SET attachment_bytes = greatest(0, attachment_bytes + v_delta);
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE TRIGGER attachments_bytes AFTER INSERT OR DELETE OR UPDATE OF size ON attachments
    FOR EACH ROW EXECUTE FUNCTION track_attachment_bytes();

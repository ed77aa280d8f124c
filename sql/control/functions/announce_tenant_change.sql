-- Every change to a brokerage's row (settings, migration state) or to its signing keys, by any
-- process or by hand, is announced on `parley_tenant_changed` with the brokerage's slug
-- (delivered at commit). Server processes drop what they cached of it (the token verifier's
-- keys and tenant), so they may keep it until it changes (docs/decisions/0022-tenant-cache.md).
CREATE OR REPLACE FUNCTION parley.announce_tenant_change() RETURNS trigger
LANGUAGE plpgsql AS $$
DECLARE
    v_slug text;
BEGIN
    IF TG_TABLE_NAME = 'tenants' THEN
        v_slug := CASE WHEN TG_OP = 'DELETE' THEN OLD.slug ELSE NEW.slug END;
    ELSE
        SELECT t.slug INTO v_slug FROM parley.tenants t
        WHERE t.id = CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant_id ELSE NEW.tenant_id END;
    END IF;
    IF v_slug IS NOT NULL THEN
        PERFORM pg_notify('parley_tenant_changed', v_slug);
    END IF;
    RETURN NULL;
END;
$$;

CREATE OR REPLACE TRIGGER tenants_changed AFTER UPDATE OR DELETE ON parley.tenants
    FOR EACH ROW EXECUTE FUNCTION parley.announce_tenant_change();
CREATE OR REPLACE TRIGGER tenant_signing_keys_changed AFTER INSERT OR UPDATE OR DELETE ON parley.tenant_signing_keys
    FOR EACH ROW EXECUTE FUNCTION parley.announce_tenant_change();

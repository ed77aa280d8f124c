#!/bin/sh
# Runs once, when the postgres container initialises an empty volume (docker-compose.yml):
# creates the login role Parley uses — not a superuser: CREATEROLE (one role per brokerage)
# and owner of the `parley` database (its schemas and the trusted extensions it installs).
# docs/DEPLOY.md explains the privileges.
set -eu
: "${PARLEY_DB_PASSWORD:?set PARLEY_DB_PASSWORD}"
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname postgres -v pw="$PARLEY_DB_PASSWORD" <<'SQL'
CREATE ROLE parley LOGIN CREATEROLE NOSUPERUSER NOCREATEDB NOREPLICATION NOBYPASSRLS PASSWORD :'pw';
CREATE DATABASE parley OWNER parley;
SQL
# Advisory locks for Parley's roles only (decision 0059): a reporting login may not hold up
# Parley's turns. The grants are per database.
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname parley <<'SQL'
CREATE ROLE parley_advisory_locks NOLOGIN;
GRANT parley_advisory_locks TO parley WITH ADMIN OPTION;
DO $$
DECLARE f regprocedure;
BEGIN
    FOR f IN SELECT p.oid::regprocedure FROM pg_proc p
             WHERE p.pronamespace = 'pg_catalog'::regnamespace AND p.proname ~ '^pg_(try_)?advisory_(xact_)?lock' LOOP
        EXECUTE format('REVOKE EXECUTE ON FUNCTION %s FROM PUBLIC', f);
        EXECUTE format('GRANT EXECUTE ON FUNCTION %s TO parley_advisory_locks', f);
    END LOOP;
END $$;
SQL

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

#!/bin/sh
# First start of the PostgreSQL volume only (docker-entrypoint-initdb.d): a role and a database
# for Linkage's read model, apart from Temporal's superuser, so the application cannot touch
# Temporal's databases.
set -eu

: "${LINKAGE_DB_PASSWORD:?}"
psql -v ON_ERROR_STOP=1 --username "${POSTGRES_USER}" --dbname "${POSTGRES_DB}" \
  --set=password="${LINKAGE_DB_PASSWORD}" <<'SQL'
CREATE ROLE linkage LOGIN PASSWORD :'password';
CREATE DATABASE linkage OWNER linkage ENCODING 'UTF8' TEMPLATE template0;
SQL

#!/bin/sh
# Creates Temporal's two PostgreSQL databases (if missing) and brings both schemas up to date.
# Runs in temporalio/admin-tools on every `docker compose up`; each step is idempotent, so a
# re-run after an image upgrade applies exactly the new schema versions.
set -eu

: "${POSTGRES_SEEDS:?}" "${POSTGRES_USER:?}" "${POSTGRES_PWD:?}"
DB_PORT="${DB_PORT:-5432}"
SCHEMA_DIR=/etc/temporal/schema/postgresql/v12

echo "waiting for PostgreSQL at ${POSTGRES_SEEDS}:${DB_PORT}"
tries=0
until nc -z "${POSTGRES_SEEDS}" "${DB_PORT}"; do
  tries=$((tries + 1))
  [ "${tries}" -lt 60 ] || { echo "PostgreSQL did not answer" >&2; exit 1; }
  sleep 1
done

# temporal-sql-tool reads the password from SQL_PASSWORD, keeping it off the command line.
export SQL_PASSWORD="${POSTGRES_PWD}"
sql() {
  temporal-sql-tool --plugin postgres12 --ep "${POSTGRES_SEEDS}" -p "${DB_PORT}" \
    -u "${POSTGRES_USER}" "$@"
}

for pair in "temporal:temporal" "temporal_visibility:visibility"; do
  db="${pair%%:*}"
  schema="${pair##*:}"
  # "create" fails when the database already exists (every run after the first): tolerated,
  # because setup-schema right after fails loudly if the database is really not there.
  sql --db "${db}" create || echo "database ${db} exists"
  sql --db "${db}" setup-schema -v 0.0
  sql --db "${db}" update-schema -d "${SCHEMA_DIR}/${schema}/versioned"
done
echo "Temporal schemas are up to date"

#!/bin/sh
# Creates Linkage's Temporal namespace and its custom search attributes, idempotently.
# The server's own setup does not register custom search attributes; workflows that upsert an
# unknown attribute fail, so api and worker start only after this job succeeded.
# LINKAGE_SEARCH_ATTRIBUTES ("Name=Type ...") mirrors domain/search_attributes.py; a test checks
# that both agree.
set -eu

: "${TEMPORAL_ADDRESS:?}" "${LINKAGE_SEARCH_ATTRIBUTES:?}"
NAMESPACE="${TEMPORAL_NAMESPACE:-default}"
RETENTION="${TEMPORAL_NAMESPACE_RETENTION:-720h}"

tries=0
until temporal operator cluster health --address "${TEMPORAL_ADDRESS}" >/dev/null 2>&1; do
  tries=$((tries + 1))
  [ "${tries}" -lt 60 ] || { echo "Temporal at ${TEMPORAL_ADDRESS} is not healthy" >&2; exit 1; }
  sleep 2
done

if temporal operator namespace describe --address "${TEMPORAL_ADDRESS}" \
    --namespace "${NAMESPACE}" >/dev/null 2>&1; then
  echo "namespace ${NAMESPACE} exists"
else
  # Closed issues live on in the read model; Temporal keeps their histories for audits a while.
  temporal operator namespace create --address "${TEMPORAL_ADDRESS}" \
    --namespace "${NAMESPACE}" --retention "${RETENTION}"
fi

# A new namespace reaches the frontend's cache some seconds after it is stored: wait for it.
tries=0
until existing=$(temporal operator search-attribute list --address "${TEMPORAL_ADDRESS}" \
    --namespace "${NAMESPACE}" 2>/dev/null); do
  tries=$((tries + 1))
  [ "${tries}" -lt 60 ] || { echo "namespace ${NAMESPACE} did not become usable" >&2; exit 1; }
  sleep 2
done
for pair in ${LINKAGE_SEARCH_ATTRIBUTES}; do
  name="${pair%%=*}"
  type="${pair##*=}"
  if printf '%s\n' "${existing}" | grep -Eq "^[[:space:]]*${name}[[:space:]]"; then
    echo "search attribute ${name} exists"
    continue
  fi
  # One attribute per call: the CLI takes a single --type and registers only the first --name.
  temporal operator search-attribute create --address "${TEMPORAL_ADDRESS}" \
    --namespace "${NAMESPACE}" --name "${name}" --type "${type}"
done
echo "namespace ${NAMESPACE} and Linkage's search attributes are ready"

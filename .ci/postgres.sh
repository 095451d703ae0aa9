#!/usr/bin/env bash
# Start Debian's PostgreSQL on 127.0.0.1:5432 and make the test database the sweep tests use
# (CNNLAB_TEST_POSTGRES=postgresql://cnnlab:cnnlab@127.0.0.1:5432/cnnlab_test). Idempotent.
set -euo pipefail
cluster=$(pg_lsclusters --no-header | awk 'NR==1 {print $1" "$2}')
[ -n "$cluster" ] || { echo "no PostgreSQL cluster found" >&2; exit 1; }
# shellcheck disable=SC2086
pg_ctlcluster $cluster start 2>/dev/null || true
for _ in $(seq 30); do pg_isready -q -h 127.0.0.1 && break; sleep 1; done
as_postgres() { su postgres -c "psql -v ON_ERROR_STOP=1 -qtAc \"$1\""; }
[ "$(as_postgres "SELECT 1 FROM pg_roles WHERE rolname='cnnlab'")" = 1 ] \
    || as_postgres "CREATE ROLE cnnlab LOGIN PASSWORD 'cnnlab' CREATEDB"
[ "$(as_postgres "SELECT 1 FROM pg_database WHERE datname='cnnlab_test'")" = 1 ] \
    || as_postgres "CREATE DATABASE cnnlab_test OWNER cnnlab"
echo "PostgreSQL ready: postgresql://cnnlab:***@127.0.0.1:5432/cnnlab_test"

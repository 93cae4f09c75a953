#!/bin/sh
# Runs once, when the postgres container initialises its data directory: the login role auditq
# runs as, a member of auditq_writer (the role migration 0003 grants the daemon's privileges
# to). The superuser POSTGRES_USER owns the tables: it is the one `auditq migrate up` runs as.
# The password goes in as a psql variable, quoted by psql (:'app_password'): a quote or a
# backslash in it can neither break nor inject SQL.
set -eu
psql -v ON_ERROR_STOP=1 -v app_password="$AUDITQ_APP_PASSWORD" \
  --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<'SQL'
CREATE ROLE auditq_writer NOLOGIN;
CREATE ROLE auditq_app LOGIN PASSWORD :'app_password' IN ROLE auditq_writer;
SQL

#!/bin/sh
# Runs once, when the postgres container initialises its data directory: the login role auditq
# runs as, a member of auditq_writer (the role migration 0003 grants the daemon's privileges
# to). The superuser POSTGRES_USER owns the tables: it is the one `auditq migrate up` runs as.
set -eu
psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" <<SQL
CREATE ROLE auditq_writer NOLOGIN;
CREATE ROLE auditq_app LOGIN PASSWORD '${AUDITQ_APP_PASSWORD}' IN ROLE auditq_writer;
SQL

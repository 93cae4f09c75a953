#!/usr/bin/env bash
# docker/compose.yaml, run for real with Compose (tests/deploy/compose.standin.yaml swaps in
# the stand-in Redis and PostgreSQL images, host networking and loopback ports). Asserts: the
# migrate one-shot exits 0 and the sidecar starts only after it; the image's HEALTHCHECK turns
# the sidecar healthy; entries XADDed into the Redis container reach the PostgreSQL container
# once each; `auditq status` inside the sidecar says healthy; the sidecar is connected as the
# least-privileged auditq_app role and the Redis ACL user "auditq", which can do neither more
# in PostgreSQL nor more in Redis than config/redis-acl.conf allows; its logs are JSON; `docker
# compose stop` ends it with exit 0 and nothing pending, and what was XADDed during the stop is
# committed after `start`.
# Usage: compose_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
require_engine
t_start=$(now)
if docker compose version >/dev/null 2>&1; then compose=(docker compose); else compose=(docker-compose); fi
"${compose[@]}" version >/dev/null 2>&1 || fail "neither docker compose nor docker-compose (scripts/bootstrap installs docker-compose)"
export POSTGRES_PASSWORD=pg-$RANDOM$RANDOM AUDITQ_APP_PASSWORD=app-$RANDOM$RANDOM AUDITQ_REDIS_PASSWORD=rd-$RANDOM$RANDOM
export AUDITQ_DEPLOY_REDIS_PORT=$(free_port) AUDITQ_DEPLOY_PG_PORT=$(free_port) AUDITQ_DEPLOY_HTTP_PORT=$(free_port)
project=auditq-deploy-$$
work=$(mktemp -d /tmp/auditq-compose-XXXXXX)
# docker/compose.yaml as users have it, with one change: its `ports:` go (with host networking a
# container's ports are the host's, and Compose v1 refuses port bindings there). Relative
# paths are made absolute, since the copy lives elsewhere.
python3 - "$repo/docker/compose.yaml" "$work/compose.yaml" <<'PY'
import os, sys, yaml
src, dst = sys.argv[1:]
base = os.path.dirname(src)
spec = yaml.safe_load(open(src, encoding="utf-8"))
for svc in spec["services"].values():
    svc.pop("ports", None)
    if "build" in svc:
        svc["build"]["context"] = os.path.normpath(os.path.join(base, svc["build"]["context"]))
    if "volumes" in svc:
        svc["volumes"] = [os.path.join(base, v[2:]) if v.startswith("./") else v for v in svc["volumes"]]
yaml.safe_dump(spec, open(dst, "w", encoding="utf-8"), sort_keys=False)
PY
dc() { "${compose[@]}" -p "$project" -f "$work/compose.yaml" -f "$repo/tests/deploy/compose.standin.yaml" "$@"; }
trap 'dc down -v --remove-orphans >/dev/null 2>&1; rm -rf "$work"' EXIT
app_redis() { redis-cli -p "$AUDITQ_DEPLOY_REDIS_PORT" "$@"; }          # the application: default user
owner_sql() { PGPASSWORD=$POSTGRES_PASSWORD sql -h 127.0.0.1 -p "$AUDITQ_DEPLOY_PG_PORT" -U app -d app "$@"; }
container() { dc ps -q "$1"; }
state() { docker inspect -f "$2" "$(container "$1")"; }

t0=$(now)
dc up -d --no-build >"$build/docker/compose-up.log" 2>&1 ||
  fail "compose up failed: $(tail -5 "$build/docker/compose-up.log"); migrate said: $(docker logs "$(container auditq-migrate)" 2>&1 | tail -3)"
[ "$(state auditq-migrate '{{.State.Status}} {{.State.ExitCode}}')" = "exited 0" ] ||
  fail "the migrate one-shot did not exit 0: $(state auditq-migrate '{{.State.Status}} {{.State.ExitCode}}'); $(docker logs "$(container auditq-migrate)" 2>&1 | tail -3)"
migrated_at=$(state auditq-migrate '{{.State.FinishedAt}}')
started_at=$(state auditq '{{.State.StartedAt}}')
[[ "$started_at" > "$migrated_at" ]] || fail "the sidecar started ($started_at) before migrate finished ($migrated_at)"
wait_for 90 sh -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $(container auditq))\" = healthy ]" ||
  fail "the sidecar is not healthy: $(state auditq '{{.State.Health.Status}}'): $(state auditq '{{json .State.Health.Log}}' | tail -c 400)"
note "compose up: migrate exited 0, sidecar healthy in $(elapsed "$t0") s"
[ "$(state auditq "{{.Config.User}}")" = 10001:10001 ] || fail "the sidecar runs as $(state auditq "{{.Config.User}}")"

# Entries from the application reach PostgreSQL, once each.
count() { owner_sql -c "SELECT count(*), count(DISTINCT (stream, entry_id)) FROM sync_events" | tr '|' ' '; }
entries sync:events 1 300 | app_redis >/dev/null
wait_for 30 sh -c "[ \"\$(PGPASSWORD=$POSTGRES_PASSWORD psql -X -At -h 127.0.0.1 -p $AUDITQ_DEPLOY_PG_PORT -U app -d app -c 'SELECT count(*) FROM sync_events')\" = 300 ]" ||
  fail "300 entries XADDed, committed: $(count)"
[ "$(count)" = "300 300" ] || fail "rows/distinct: $(count)"

# The operator's first command, inside the sidecar, with its own environment and ACL user.
status_json=$(docker exec "$(container auditq)" auditq status --json) ||
  fail "auditq status in the sidecar exits $?: $status_json"
python3 -c '
import json, sys
s = json.loads(sys.argv[1])
st = s["streams"][0]
assert s["healthy"] and s["daemon"]["ready"], s
assert st["name"] == "sync:events" and st["entries"] == 300 and st["pending"] == 0 and st["lag"] == 0, st
' "$status_json" || fail "auditq status in the sidecar: $status_json"

# Least privilege, as in use: who is connected, and what that identity may not do.
users=$(owner_sql -c "SELECT string_agg(DISTINCT usename, ',') FROM pg_stat_activity
                      WHERE datname = 'app' AND backend_type = 'client backend' AND pid <> pg_backend_pid()")
[ "$users" = auditq_app ] || fail "PostgreSQL sessions of the sidecar run as '$users', not auditq_app"
[ "$(owner_sql -c "SELECT rolsuper OR rolcreaterole OR rolcreatedb FROM pg_roles WHERE rolname = 'auditq_app'")" = f ] ||
  fail "auditq_app has superuser, createrole or createdb"
PGPASSWORD=$AUDITQ_APP_PASSWORD psql -X -q -h 127.0.0.1 -p "$AUDITQ_DEPLOY_PG_PORT" -U auditq_app -d app \
  -c "DELETE FROM sync_events" >/dev/null 2>&1 && fail "auditq_app may DELETE from sync_events"
# The sidecar's connections are the ones named auditq:<consumer>:<role> (CLIENT SETNAME).
sidecar=$(app_redis CLIENT LIST | grep ' name=auditq:' || true)
[ -n "$sidecar" ] || fail "no Redis connection named auditq:* (the sidecar's)"
clients=$(sed -n 's/.* user=\([^ ]*\).*/\1/p' <<<"$sidecar" | sort -u | tr '\n' ' ')
[ "$clients" = "auditq " ] || fail "the sidecar's Redis connections authenticate as '$clients', not only 'auditq'"
as_auditq() { redis-cli -p "$AUDITQ_DEPLOY_REDIS_PORT" --user auditq --pass "$AUDITQ_REDIS_PASSWORD" --no-auth-warning "$@"; }
[ "$(as_auditq XLEN sync:events 2>&1)" != "" ] || fail "the auditq ACL user cannot reach its stream"
as_auditq FLUSHALL 2>&1 | grep -q NOPERM || fail "the auditq ACL user may FLUSHALL"
as_auditq SET sync:probe 1 2>&1 | grep -q NOPERM || fail "the auditq ACL user may SET"
as_auditq XLEN other:stream 2>&1 | grep -q NOPERM || fail "the auditq ACL user may read keys outside sync:*"
note "sidecar connected as auditq_app (no DELETE) and Redis ACL user auditq (no FLUSHALL, SET, other keys)"

# JSON logs.
docker logs "$(container auditq)" 2>&1 | python3 -c '
import json, sys
lines = [l for l in sys.stdin if l.strip()]
assert lines, "no log lines"
for l in lines: json.loads(l)
print(len(lines))' >/dev/null || fail "the sidecar logs lines that are not JSON: $(docker logs "$(container auditq)" 2>&1 | head -3)"

# Stop while entries arrive: exit 0, nothing pending; the rest is committed after start.
t0=$(now)
entries sync:events 301 700 | app_redis >/dev/null
dc stop auditq >/dev/null 2>&1 || fail "compose stop failed"
stop_s=$(elapsed "$t0")
[ "$(state auditq '{{.State.ExitCode}}')" = 0 ] || fail "the sidecar exited $(state auditq '{{.State.ExitCode}}') on stop"
pending=$(app_redis XPENDING sync:events auditq | head -1)
[ "$pending" = 0 ] || fail "$pending entries pending after compose stop"
at_stop=$(count)
dc start auditq >/dev/null 2>&1 || fail "compose start failed"
wait_for 60 sh -c "[ \"\$(PGPASSWORD=$POSTGRES_PASSWORD psql -X -At -h 127.0.0.1 -p $AUDITQ_DEPLOY_PG_PORT -U app -d app -c 'SELECT count(*) FROM sync_events')\" = 1000 ]" ||
  fail "1000 entries XADDed, committed after restart: $(count)"
[ "$(count)" = "1000 1000" ] || fail "rows/distinct after restart: $(count)"
note "compose stop in $stop_s s: exit 0, 0 pending, rows/distinct at stop $at_stop; all 1000 once after start"
note "OK in $(elapsed "$t_start") s"

# Shared by the deployment tests (tests/deploy/*.sh, sourced): where the test's Docker engine
# lives, how to reach it, and the helpers every test uses. The engine is started by setup.sh
# (a CTest fixture) and stopped by PID by teardown.sh; every container and build uses the host's
# network, so nothing leaves loopback.
# Usage from a test: source lib.sh BUILD_DIR
build=$(cd "$1" && pwd)
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
deploy=$build/docker                 # the engine's data, exec root, socket and logs
export DOCKER_HOST=unix://$deploy/run/docker.sock
export DOCKER_BUILDKIT=0 COMPOSE_DOCKER_CLI_BUILD=0 # the engine's own builder, no BuildKit
test_name=$(basename "$0" .sh)

fail() { echo "$test_name: FAIL: $*" >&2; exit 1; }
# Each test's findings, also kept in BUILD_DIR/docker/report.txt (scripts/test prints it:
# CTest shows a passing test's output only with -V).
note() { echo "$test_name: $*" >&2; echo "$test_name: $*" >>"$deploy/report.txt" 2>/dev/null || true; }

# Seconds since the epoch with milliseconds, for the timings each part reports.
now() { date +%s.%N | cut -c1-14; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }

# Waits up to $1 seconds for the command after it to succeed.
wait_for() {
  local deadline=$(($(date +%s) + $1)); shift
  until "$@" >/dev/null 2>&1; do
    [ "$(date +%s)" -lt "$deadline" ] || return 1
    sleep 0.5
  done
}

# The engine must be the one setup.sh started: a test never falls back to another engine.
require_engine() {
  [ -S "$deploy/run/docker.sock" ] && docker version >/dev/null 2>&1 ||
    fail "the test's Docker engine is not running ($DOCKER_HOST): see $deploy/dockerd.log"
}

# A free TCP port on loopback (the kernel's choice, released at once).
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

# The test servers scripts/test starts (scripts/dev-stack env), reached over loopback from the
# host and from containers on the host's network.
require_stack() {
  [ -n "${AUDITQ_TEST_REDIS_URL:-}" ] && [ -n "${AUDITQ_TEST_PG_URL:-}" ] ||
    fail "AUDITQ_TEST_REDIS_URL / AUDITQ_TEST_PG_URL unset: run through scripts/test (or eval \"\$(scripts/dev-stack env)\")"
}
rcli() { redis-cli -u "$AUDITQ_TEST_REDIS_URL" "$@"; }
# The consumers of group `auditq` on stream $1, a name per line.
consumers_of() { rcli XINFO CONSUMERS "$1" auditq | awk 'prev == "name" { print } { prev = $0 }'; }
# A fresh database on the test PostgreSQL server; prints its URL.
fresh_database() {
  PGOPTIONS='-c client_min_messages=warning' psql -q -X -v ON_ERROR_STOP=1 "$AUDITQ_TEST_PG_URL" -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
    -c "CREATE DATABASE $1" >/dev/null || fail "cannot create database $1"
  echo "${AUDITQ_TEST_PG_URL%/*}/$1"
}
sql() { psql -X -At -v ON_ERROR_STOP=1 "$@"; }

# Prometheus text from a /metrics URL: the value of one sample (name with labels as printed).
metric() { curl -fsS "$1" | awk -v k="$2" '$1 == k { print $2; found = 1 } END { exit !found }'; }

# $3 valid stream entries (DESIGN.md's contract) for stream $1, versions from $2, over 10
# sessions, as redis-cli commands on stdin.
entries() {
  local ts i
  ts=$(date +%s%3N)
  for i in $(seq "$2" $(($2 + $3 - 1))); do
    printf 'XADD %s * type session_updated session_id 00000000-0000-4000-8000-%012d ts %s version %s\n' \
      "$1" $((i % 10)) "$ts" "$i"
  done
}

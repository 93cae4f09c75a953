#!/usr/bin/env bash
# The image docker/Dockerfile builds (setup.sh built it as auditq:local). Asserts: it runs as a
# non-root numeric UID; its runtime stage has no compiler, linker or build tool; `auditq
# --version` and `check-config` work inside it (a bad value exits 2 naming its key,
# `check-config --connect` reaches the test servers); it runs with a read-only root file system,
# no capabilities and no-new-privileges; its HEALTHCHECK turns healthy, and the container
# commits entries. Prints the image's size.
# Usage: image_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
require_engine
require_stack
t_start=$(now)
image=auditq:local
name=auditq-image-test-$$
stream=deploy:image:$$
trap 'docker rm -f "$name" >/dev/null 2>&1; rcli DEL "$stream" >/dev/null 2>&1' EXIT
run() { docker run --rm --network host "$@"; }

size=$(docker image inspect -f '{{.Size}}' "$image")
user=$(docker image inspect -f '{{.Config.User}}' "$image")
[[ "$user" =~ ^[1-9][0-9]*(:[0-9]+)?$ ]] || fail "USER is '$user', not a non-root numeric UID"
[ "$(run --entrypoint id "$image" -u)" = "${user%%:*}" ] || fail "the container does not run as UID ${user%%:*}"
tools=$(run --entrypoint sh "$image" -c \
  'for t in cc c++ gcc g++ clang ld as make cmake dpkg-buildpackage; do command -v $t; done; ls /usr/lib/gcc 2>/dev/null' || true)
[ -z "$tools" ] || fail "build tools in the runtime image: $(echo $tools)"

version=$(run "$image" --version) || fail "auditq --version failed in the image"
[ "$version" = "$("$build/src/app/auditq" --version)" ] || fail "the image says '$version', this build '$("$build/src/app/auditq" --version)'"
run "$image" check-config >/dev/null || fail "check-config refuses the image's defaults"
set +e
out=$(run -e AUDITQ_BATCH_MAX_ENTRIES=lots "$image" check-config 2>&1); rc=$?
set -e
[ $rc = 2 ] || fail "a bad AUDITQ_BATCH_MAX_ENTRIES exits $rc, not 2"
grep -q 'max_entries' <<<"$out" || fail "the refusal does not name the key: $out"
db_url=$(fresh_database auditq_deploy_image)
run -e DATABASE_URL="$db_url" "$image" migrate up >/dev/null 2>&1 || fail "migrate up in the image failed"
run -e REDIS_URL="$AUDITQ_TEST_REDIS_URL" -e DATABASE_URL="$db_url" "$image" check-config --connect >/dev/null 2>&1 ||
  fail "check-config --connect cannot reach the test servers from the image"
note "USER $user, no build tools, $version, check-config (exit 2 naming batch.max_entries on a bad value; --connect OK)"

# The sidecar as an operator hardens it; the HEALTHCHECK is the image's own.
port=$(free_port)
t0=$(now)
docker run -d --name "$name" --network host --read-only --cap-drop ALL --security-opt no-new-privileges \
  -e REDIS_URL="$AUDITQ_TEST_REDIS_URL" -e DATABASE_URL="$db_url" -e AUDITQ_CONSUMER_STREAMS="$stream" \
  -e AUDITQ_HTTP_LISTEN=127.0.0.1:$port "$image" >/dev/null || fail "docker run failed"
wait_for 90 sh -c "[ \"\$(docker inspect -f '{{.State.Health.Status}}' $name)\" = healthy ]" ||
  fail "not healthy: $(docker inspect -f '{{.State.Health.Status}} {{json .State.Health.Log}}' "$name" | tail -c 400); logs: $(docker logs "$name" 2>&1 | tail -3)"
healthy=$(elapsed "$t0")
entries "$stream" 1 100 | rcli >/dev/null
wait_for 30 sh -c "[ \"\$(psql -X -At '$db_url' -c 'SELECT count(*) FROM sync_events')\" = 100 ]" ||
  fail "100 entries XADDed, $(sql "$db_url" -c 'SELECT count(*) FROM sync_events') committed"
# Host networking gives the container the host's hostname: the default consumer name takes
# the container's id instead of the pid (1 in every such container).
cid=$(docker inspect -f '{{.Id}}' "$name")
consumers=$(consumers_of "$stream")
[ "$consumers" = "$(hostname)-${cid:0:12}" ] ||
  fail "consumers of the group: '$consumers', expected $(hostname)-${cid:0:12}"
docker stop -t 40 "$name" >/dev/null
[ "$(docker inspect -f '{{.State.ExitCode}}' "$name")" = 0 ] || fail "exit $(docker inspect -f '{{.State.ExitCode}}' "$name") on docker stop"
note "read-only, no capabilities: healthy after $healthy s (HEALTHCHECK interval 15 s), 100 entries committed by consumer $consumers, exit 0 on stop"
note "image size $(awk -v s="$size" 'BEGIN { printf "%.1f MB", s / 1e6 }'); OK in $(elapsed "$t_start") s"

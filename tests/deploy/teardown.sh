#!/usr/bin/env bash
# CTest fixture cleanup for the deployment tests: removes every container the tests left,
# then stops the test's Docker engine by its PID (SIGTERM, then SIGKILL after 30 s). The
# images stay in BUILD_DIR/docker, so the next run on this machine builds from the cache.
# Usage: teardown.sh BUILD_DIR
set -uo pipefail
source "$(dirname "$0")/lib.sh" "$1"
pidfile=$deploy/run/dockerd.pid.launch
[ -s "$pidfile" ] || exit 0
pid=$(cat "$pidfile")
if kill -0 "$pid" 2>/dev/null; then
  ids=$(docker ps -aq 2>/dev/null)
  [ -z "$ids" ] || docker rm -f $ids >/dev/null 2>&1
  docker volume prune -f >/dev/null 2>&1
  kill -TERM "$pid"
  for _ in $(seq 60); do kill -0 "$pid" 2>/dev/null || break; sleep 0.5; done
  kill -0 "$pid" 2>/dev/null && { note "dockerd ignored SIGTERM for 30 s: SIGKILL"; kill -KILL "$pid"; }
fi
# The engine's own containerd, should it outlive dockerd.
pkill -f -- "--state $deploy/run/exec/containerd" 2>/dev/null
pkill -f -- "containerd --config $deploy/run/exec" 2>/dev/null
rm -f "$pidfile"
note "engine stopped"

#!/usr/bin/env bash
# The .deb under a real systemd: a container booted with systemd as PID 1 (unprivileged:
# --tmpfs /run, the host's cgroups, container=docker), the package installed with apt, the unit
# started with systemctl against the test servers on loopback. Asserts: the package creates the
# user and leaves the service stopped; `systemctl start` returns once auditq sent READY=1
# (Type=notify) and the unit is active; the hardening is in force in the running process
# (uid, no_new_privs, seccomp, no capabilities, read-only /usr, private /tmp) and
# `systemd-analyze security` rates the live unit as docs/operations.md says; entries are
# committed; `systemctl reload` applies a new log level (debug lines appear in the journal, the
# reload counter moves); a SIGSTOPped auditq is killed by the watchdog and restarted, and the
# entries written meanwhile are committed once; `systemctl stop` drains and exits 0 with
# nothing pending; every line above came through the journal.
# Usage: systemd_test.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
require_engine
require_stack
t_start=$(now)
box=auditq-systemd-test-$$
stream=deploy:systemd:$$
db_url=$(fresh_database auditq_deploy_systemd)
cleanup() { docker rm -f "$box" >/dev/null 2>&1; rcli DEL "$stream" >/dev/null 2>&1; rm -rf "$work"; }
work=$(mktemp -d /tmp/auditq-systemd-XXXXXX)
[ -n "${KEEP_BOX:-}" ] || trap cleanup EXIT
in_box() { docker exec "$box" "$@"; }
prop() { in_box systemctl show auditq -p "$1" --value; }

# seccomp=unconfined: Docker's default seccomp profile refuses unshare(CLONE_NEWUSER) to a
# process without CAP_SYS_ADMIN, so systemd cannot apply PrivateUsers= (status 217/USER,
# "Failed to set up user namespacing"); a host has no such filter. Not --privileged: the
# container keeps Docker's default capabilities.
docker run -d --name "$box" --network host --security-opt seccomp=unconfined --tmpfs /run --tmpfs /run/lock \
  -v /sys/fs/cgroup:/sys/fs/cgroup:rw -e container=docker auditq-systemd:local >/dev/null ||
  fail "cannot start the systemd container"
wait_for 60 sh -c "docker exec $box systemctl is-system-running | grep -Eq '^(running|degraded)$'" ||
  fail "systemd did not boot: $(in_box systemctl is-system-running 2>&1); failed units: $(in_box systemctl --failed --no-legend 2>&1)"
note "systemd booted as PID 1: $(in_box systemctl is-system-running)"

# Install: apt resolves the runtime libraries the package's Depends: name.
docker cp "$deploy/deb/." "$box:/tmp/deb/" >/dev/null
in_box sh -c 'DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends /tmp/deb/auditq_*.deb' \
  >"$work/apt.log" 2>&1 || fail "apt-get install of the .deb failed: $(tail -5 "$work/apt.log")"
in_box getent passwd auditq >/dev/null || fail "the package did not create the auditq user"
[ "$(prop LoadState)" = loaded ] || fail "the unit is not loaded after install"
[ "$(prop ActiveState)" = inactive ] || fail "the package started the service (it must wait for a config)"

# Configure as docs/operations.md says: secrets in /etc/auditq/auditq.env (0640 root:auditq).
# No consumer name: under systemd the default is <hostname>-auditq.service, the same after
# every restart, so a restarted auditq takes its own pending entries back at once (checked
# after the watchdog restart below).
http_port=$(free_port)
in_box env DATABASE_URL="$db_url" auditq migrate up >/dev/null || fail "auditq migrate up (installed binary) failed"
docker exec -i "$box" sh -c "umask 027 && cat >/etc/auditq/auditq.env && chgrp auditq /etc/auditq/auditq.env" <<ENV
REDIS_URL=$AUDITQ_TEST_REDIS_URL
DATABASE_URL=$db_url
AUDITQ_CONSUMER_STREAMS=$stream
AUDITQ_HTTP_LISTEN=127.0.0.1:$http_port
ENV
metrics=http://127.0.0.1:$http_port/metrics

t0=$(now)
# Bounded here (the unit allows TimeoutStartSec=5min for servers that come up late).
in_box timeout 90 systemctl start auditq || fail "systemctl start failed: $(in_box journalctl -u auditq -n 20 --no-pager)"
started=$(elapsed "$t0")
[ "$(prop ActiveState)" = active ] || fail "not active after start: $(prop ActiveState)/$(prop SubState)"
[ "$(prop Type)" = notify ] || fail "the unit is not Type=notify"
[ "$(prop WatchdogUSec)" = 30s ] || fail "the watchdog is $(prop WatchdogUSec), the unit says 30s"
# Type=notify: systemctl start returned only after READY=1, so /readyz already answers 200.
curl -fsS "http://127.0.0.1:$http_port/readyz" >/dev/null || fail "start returned before auditq was ready"
pid=$(prop MainPID)
note "systemctl start returned after READY=1 in $started s; MainPID $pid"

# Hardening, read off the running process, not the unit file.
status=$(in_box cat "/proc/$pid/status")
user=$(in_box ps -o user= -p "$pid")
[ "$user" = auditq ] || fail "runs as $user, not auditq"
grep -Eq '^NoNewPrivs:\s+1$' <<<"$status" || fail "no_new_privs is not set (NoNewPrivileges=)"
grep -Eq '^Seccomp:\s+2$' <<<"$status" || fail "no seccomp filter (SystemCallFilter=)"
grep -Eq '^CapBnd:\s+0+$' <<<"$status" || fail "capabilities left: $(grep CapBnd <<<"$status") (CapabilityBoundingSet=)"
grep -Eq '^CapEff:\s+0+$' <<<"$status" || fail "effective capabilities: $(grep CapEff <<<"$status")"
# The service's mount namespace, as its /proc/PID/mountinfo shows it (entering it would need
# CAP_SYS_ADMIN, which the container does not have): / and /usr read-only
# (ProtectSystem=strict), its own /tmp (PrivateTmp=), /root and /home made inaccessible
# (ProtectHome=).
mounts=$(in_box cat "/proc/$pid/mountinfo")
ro_at() { awk -v m="$1" '$5 == m { split($6, o, ","); if (o[1] == "ro") found = 1 } END { exit !found }' <<<"$mounts"; }
ro_at / || fail "/ is not read-only for the service (ProtectSystem=strict)"
ro_at /usr || ro_at / || fail "/usr is writable for the service"
awk '$5 == "/tmp"' <<<"$mounts" | grep -q 'systemd-private-.*-auditq.service-' ||
  fail "the service has no private /tmp (PrivateTmp=): $(awk '$5 == "/tmp"' <<<"$mounts")"
for d in /root /home; do
  awk -v m="$d" '$5 == m { found = 1 } END { exit !found }' <<<"$mounts" ||
    fail "$d is not masked for the service (ProtectHome=)"
done
[ "$(in_box ps -o user= -p 1)" = root ] && [ "$(awk '$5 == "/"' <<<"$(in_box cat /proc/1/mountinfo)" | awk '{split($6,o,","); print o[1]}')" = rw ] ||
  fail "the container's own / is read-only too: the check above proves nothing"
exposure=$(in_box systemd-analyze security auditq --no-pager 2>/dev/null |
  sed -n 's/.*Overall exposure level for auditq.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "systemd-analyze security printed no exposure level for the live unit"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "live exposure $exposure > 2.0 (docs/operations.md)"
note "hardening in force: user auditq, no_new_privs, seccomp, no capabilities, read-only /usr, private /tmp; exposure $exposure"

# Entries committed.
xadd() { entries "$stream" "$1" "$2" | rcli >/dev/null; }
committed() { sql "$db_url" -c "SELECT count(*) FROM sync_events WHERE stream = '$stream'"; }
wait_committed() { wait_for "$2" sh -c "[ \"\$(psql -X -At '$db_url' -c \"SELECT count(*) FROM sync_events WHERE stream = '$stream'\")\" = $1 ]"; }
xadd 1 100
wait_committed 100 30 || fail "100 entries XADDed, $(committed) committed"

# Reload: log level info -> debug. The journal has no debug line before, has them after.
[ "$(in_box journalctl -u auditq -o cat --no-pager | grep -c batch_committed)" = 0 ] ||
  fail "debug lines before the reload (log.level is info)"
in_box sed -i 's/^\(\s*level:\) info/\1 debug/' /etc/auditq/auditq.yaml
in_box systemctl reload auditq || fail "systemctl reload failed"
wait_for 10 sh -c "curl -fsS $metrics | grep -q 'auditq_config_reloads_total{result=\"applied\"} 1'" ||
  fail "the reload was not applied: $(curl -fsS "$metrics" | grep reloads_total)"
xadd 101 100
wait_committed 200 30 || fail "200 entries XADDed, $(committed) committed"
wait_for 10 sh -c "docker exec $box journalctl -u auditq -o cat --no-pager | grep -q batch_committed" ||
  fail "no debug line in the journal after systemctl reload set log.level debug"
[ "$(prop MainPID)" = "$pid" ] || fail "reload restarted the process"
note "systemctl reload applied log.level debug without a restart"

# Watchdog: a drop-in shortens WatchdogSec (the mechanism is the shipped one; 30 s would only
# make the test slower). SIGSTOP freezes the event loop: systemd must SIGABRT and restart it.
in_box mkdir -p /etc/systemd/system/auditq.service.d
in_box sh -c 'printf "[Service]\nWatchdogSec=3s\n" >/etc/systemd/system/auditq.service.d/watchdog.conf'
in_box systemctl daemon-reload
in_box timeout 90 systemctl restart auditq || fail "restart with the watchdog drop-in failed"
pid=$(prop MainPID)
restarts=$(prop NRestarts)
in_box kill -STOP "$pid"
t0=$(now)
xadd 201 100 # written while auditq is frozen
wait_for 30 sh -c "[ \"\$(docker exec $box systemctl show auditq -p NRestarts --value)\" -gt $restarts ] &&
  [ \"\$(docker exec $box systemctl is-active auditq)\" = active ]" ||
  fail "the watchdog did not restart a stopped auditq: $(prop ActiveState)/$(prop SubState), NRestarts $(prop NRestarts)"
new_pid=$(prop MainPID)
[ "$new_pid" != "$pid" ] || fail "same MainPID after the watchdog restart"
wait_for 10 sh -c "docker exec $box journalctl -u auditq --no-pager | grep -q 'Watchdog timeout'" ||
  fail "systemd did not log a watchdog timeout"
wait_committed 300 30 || fail "300 entries XADDed, $(committed) committed after the watchdog restart"
note "watchdog killed the stopped process and restarted it ($(elapsed "$t0") s); the 100 entries written meanwhile were committed"
# Three processes so far (start, restart, the watchdog's restart), one consumer: the name
# comes from the unit, not the pid.
consumers=$(consumers_of "$stream")
[ "$consumers" = "$(in_box hostname)-auditq.service" ] ||
  fail "consumers of the group: '$consumers', expected only $(in_box hostname)-auditq.service"
note "one consumer across three processes: $consumers"

# Stop: drain, exit 0, nothing pending.
xadd 301 100
in_box systemctl stop auditq
[ "$(prop Result)" = success ] || fail "stop result $(prop Result)"
[ "$(prop ExecMainStatus)" = 0 ] || fail "auditq exited $(prop ExecMainStatus) on systemctl stop"
wait_committed 400 1 || fail "400 entries XADDed, $(committed) committed after stop"
pending=$(rcli XPENDING "$stream" auditq | head -1)
[ "$pending" = 0 ] || fail "$pending entries pending after systemctl stop"
dups=$(sql "$db_url" -c "SELECT count(*) - count(DISTINCT (stream, entry_id)) FROM sync_events")
[ "$dups" = 0 ] || fail "$dups duplicate rows"
lines=$(in_box journalctl -u auditq -o json --no-pager | grep -c '"SYSLOG_IDENTIFIER":"auditq"' || true)
[ "$lines" -gt 0 ] || fail "no auditq lines in the journal"
note "systemctl stop: exit 0, 400 of 400 committed once, 0 pending; $lines auditq lines in the journal"
note "OK in $(elapsed "$t_start") s"

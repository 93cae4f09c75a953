#!/usr/bin/env bash
# cmake --install (staged with DESTDIR, prefix /usr) puts the binary, the unit, the sysusers
# file, the example config, the migrations and the docs where Debian expects them; the
# installed unit passes `systemd-analyze verify` and its security exposure stays low; the
# .deb CPack builds carries the same files, the runtime dependencies and the conffile.
# Usage: install_test.sh BUILD_DIR
set -euo pipefail
build=$1
tmp=$(mktemp -d /tmp/auditq-install-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "install_test: $*" >&2; exit 1; }

DESTDIR=$tmp/root cmake --install "$build" --prefix /usr >/dev/null
root=$tmp/root
for f in usr/bin/auditq usr/lib/systemd/system/auditq.service usr/lib/sysusers.d/auditq.conf \
         etc/auditq/auditq.yaml usr/share/auditq/redis-acl.conf \
         usr/share/auditq/migrations/0001_sync_schema.up.sql \
         usr/share/auditq/migrations/0003_writer_role.up.sql \
         usr/share/doc/auditq/README.md usr/share/doc/auditq/operations.md \
         usr/share/doc/auditq/prometheus/alerts.yaml usr/share/doc/auditq/grafana/auditq.json; do
  [ -e "$root/$f" ] || fail "missing /$f"
done
[ -x "$root/usr/bin/auditq" ] || fail "/usr/bin/auditq is not executable"
"$root/usr/bin/auditq" --version >/dev/null || fail "the installed binary does not run"
# The example config is valid as installed.
"$root/usr/bin/auditq" check-config --config "$root/etc/auditq/auditq.yaml" >/dev/null ||
  fail "the installed example config is refused"
unit=$root/usr/lib/systemd/system/auditq.service
grep -qx 'ExecStart=/usr/bin/auditq run --config /etc/auditq/auditq.yaml' "$unit" ||
  fail "ExecStart does not name /usr/bin/auditq: $(grep ExecStart "$unit")"
grep -qx 'Type=notify' "$unit" || fail "the unit is not Type=notify"
grep -q '^WatchdogSec=' "$unit" || fail "the unit has no WatchdogSec="

# systemd-analyze checks the executable too: point the copy at the staged binary.
sed "s#/usr/bin/auditq#$root/usr/bin/auditq#" "$unit" >"$tmp/auditq.service"
if ! out=$(systemd-analyze verify "$tmp/auditq.service" 2>&1) || [ -n "$out" ]; then
  fail "systemd-analyze verify: $out"
fi
exposure=$(systemd-analyze security --offline=true "$tmp/auditq.service" 2>/dev/null |
  sed -n 's/.*Overall exposure level for auditq.service: \([0-9.]*\).*/\1/p')
[ -n "$exposure" ] || fail "no exposure level from systemd-analyze security"
awk -v e="$exposure" 'BEGIN { exit !(e <= 2.0) }' || fail "security exposure $exposure > 2.0"
echo "systemd-analyze security exposure: $exposure"

# The Debian package.
(cd "$build" && cpack -G DEB -B "$tmp/pkg" >/dev/null)
deb=$(ls "$tmp"/pkg/auditq_*.deb)
dpkg-deb -c "$deb" | awk '{print $6}' >"$tmp/files"
for f in ./usr/bin/auditq ./usr/lib/systemd/system/auditq.service ./etc/auditq/auditq.yaml \
         ./usr/lib/sysusers.d/auditq.conf ./usr/share/auditq/migrations/0003_writer_role.up.sql; do
  grep -qx "$f" "$tmp/files" || fail ".deb lacks $f"
done
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libpqxx-6.4 libhiredis0.14 libyaml-cpp0.7 libsystemd0; do
  grep -q "$lib" <<<"$depends" || fail ".deb Depends lacks $lib: $depends"
done
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./conffiles | grep -qx /etc/auditq/auditq.yaml ||
  fail "the config is not a conffile"
dpkg-deb --ctrl-tarfile "$deb" | tar -xO ./postinst | grep -q 'systemd-sysusers' ||
  fail "postinst does not create the user"
echo "install_test: OK ($(basename "$deb"))"

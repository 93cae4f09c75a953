#!/usr/bin/env bash
# CTest fixture setup for the deployment tests: starts a Docker engine of the test's own
# (dockerd --bridge=none --iptables=false: host networking only, data under BUILD_DIR/docker),
# makes the base images docker/Dockerfile names from Debian's archive (debootstrap + docker
# import, since no registry is reachable: debian:12, and debian:12-slim without docs, man pages
# and locales as the official slim image), builds auditq:local from docker/Dockerfile exactly
# as a user would, and the test-only stand-in images (tests/deploy/standin). Fails, saying
# why, when the engine cannot start: the tests that need it then fail too, never pass.
# Idempotent: an engine already running (scripts/test prepares everything in the background
# while the sanitizer suite runs) is reused, and every image comes from the engine's cache when
# its sources did not change; a second run waits for a first one still under way.
# Usage: setup.sh BUILD_DIR
set -euo pipefail
source "$(dirname "$0")/lib.sh" "$1"
mkdir -p "$deploy/run"
exec 9>"$deploy/setup.lock"
flock 9

if docker version >/dev/null 2>&1; then
  note "engine already running: reused"
else
  : >"$deploy/report.txt"
  # A previous run's engine (a killed test run) is stopped first.
  "$repo/tests/deploy/teardown.sh" "$build" >/dev/null 2>&1 || true
  command -v dockerd >/dev/null || fail "dockerd is not installed (scripts/bootstrap installs docker.io)"
  t0=$(now)
  setsid dockerd --bridge=none --iptables=false --ip-masq=false --ip6tables=false \
    --data-root "$deploy/data" --exec-root "$deploy/run/exec" --pidfile "$deploy/run/dockerd.pid" \
    -H "$DOCKER_HOST" >"$deploy/dockerd.log" 2>&1 </dev/null 9>&- &
  echo $! >"$deploy/run/dockerd.pid.launch"
  wait_for 60 docker version ||
    fail "the Docker engine did not start within 60 s; its log ($deploy/dockerd.log) ends: $(tail -3 "$deploy/dockerd.log")"
  note "engine up in $(elapsed "$t0") s (server $(docker version -f '{{.Server.Version}}'))"
fi

# Base images: debootstrap once per build directory, imported once per engine data (a new
# import would be a new image, and every build on it would start again).
t0=$(now)
rootfs_tar=$deploy/debian-12-minbase.tar
if [ ! -s "$rootfs_tar" ]; then
  command -v debootstrap >/dev/null || fail "debootstrap is not installed (scripts/bootstrap installs it)"
  rootfs=$deploy/rootfs
  rm -rf "$rootfs"
  debootstrap --variant=minbase bookworm "$rootfs" http://deb.debian.org/debian \
    >"$deploy/debootstrap.log" 2>&1 || fail "debootstrap failed: $(tail -3 "$deploy/debootstrap.log")"
  cat >"$rootfs/etc/apt/sources.list" <<'LIST'
deb http://deb.debian.org/debian bookworm main
deb http://deb.debian.org/debian bookworm-updates main
deb http://deb.debian.org/debian-security bookworm-security main
LIST
  # What the official image's apt configuration does: no package files or caches left behind.
  cat >"$rootfs/etc/apt/apt.conf.d/docker-clean" <<'APT'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
APT
  echo 'Acquire::Languages "none";' >"$rootfs/etc/apt/apt.conf.d/docker-no-languages"
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/lib/apt/lists/*
  tar -C "$rootfs" -cf "$rootfs_tar.tmp" . && mv "$rootfs_tar.tmp" "$rootfs_tar"
  rm -rf "$rootfs"
fi
rootfs_sum=$(cksum <"$rootfs_tar" | cut -d' ' -f1)
[ "$(docker image inspect -f '{{index .Config.Labels "auditq.rootfs"}}' debian:12 2>/dev/null)" = "$rootfs_sum" ] ||
  docker import -c 'CMD ["bash"]' -c "LABEL auditq.rootfs=$rootfs_sum" "$rootfs_tar" debian:12 >/dev/null
# The slim variant: what the official debian:12-slim leaves out, and dpkg told to keep it out.
slim=$deploy/slim
rm -rf "$slim" && mkdir -p "$slim/etc/dpkg/dpkg.cfg.d"
cat >"$slim/Dockerfile" <<'SLIM'
FROM debian:12
COPY dpkg-slim /etc/dpkg/dpkg.cfg.d/docker
RUN find /usr/share/doc -mindepth 1 -not -name copyright -not -type d -delete \
    && find /usr/share/doc -mindepth 1 -type d -empty -delete \
    && rm -rf /usr/share/man/* /usr/share/info/* /usr/share/locale/* /usr/share/groff/* \
              /usr/share/lintian/* /usr/share/linda/* /var/cache/man/*
SLIM
cat >"$slim/dpkg-slim" <<'CFG'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/groff/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CFG
docker build -q --network host -t debian:12-slim "$slim" >/dev/null 2>&1 || fail "building debian:12-slim failed"
note "base images debian:12 and debian:12-slim in $(elapsed "$t0") s"

# The product image, built the way docker/Dockerfile's header says.
t0=$(now)
docker build --network host -f "$repo/docker/Dockerfile" -t auditq:local "$repo" \
  >"$deploy/build-auditq.log" 2>&1 || fail "docker build of docker/Dockerfile failed: $(tail -5 "$deploy/build-auditq.log")"
note "auditq:local built from docker/Dockerfile in $(elapsed "$t0") s ($(docker image inspect -f '{{.Size}}' auditq:local | awk '{printf "%.1f MB", $1/1e6}'))"

# The .deb the build stage made (the same the image installed), for the systemd test.
docker build -q --network host --target build -f "$repo/docker/Dockerfile" -t auditq-build:local \
  "$repo" >/dev/null 2>&1 || fail "the Dockerfile's build stage did not come from the cache"
cid=$(docker create auditq-build:local) || fail "docker create auditq-build:local"
rm -rf "$deploy/deb" && mkdir -p "$deploy/deb"
docker cp "$cid:/out/." "$deploy/deb/" >/dev/null && docker rm "$cid" >/dev/null
ls "$deploy"/deb/auditq_*.deb >/dev/null 2>&1 || fail "no .deb in the build stage's /out"

# The test-only stand-ins.
t0=$(now)
for target in standin systemd; do
  docker build --network host --target "$target" -t "auditq-$target:local" "$repo/tests/deploy/standin" \
    >"$deploy/build-$target.log" 2>&1 || fail "building the $target stand-in failed: $(tail -5 "$deploy/build-$target.log")"
done
note "stand-in images in $(elapsed "$t0") s"

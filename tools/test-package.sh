#!/bin/sh
# test-package.sh — installs what `make package` built the way users deploy it and
# checks that it works (tools/package-check.py: health, a fax through the loopback
# backend, the received fax read back), then stops it and checks the clean exit:
#   1. the .deb in a clean Debian 12 root (debootstrap --variant=minbase bookworm).
#      systemd cannot run as PID 1 in a chroot, so the gateway is started the way
#      the installed unit says (its User=, Environment=, EnvironmentFile=, ExecStart=).
#   2. the container image (podman --runtime runc; the base image is made locally
#      from debootstrap), including HEALTHCHECK, the faxbot CLI, `podman stop`
#      draining and the data volume surviving a new container;
#   3. the same through compose.yaml with podman-compose.
# Slow (minutes); not part of `make test`. Needs root (chroot, podman).
# FAXBOT_PKG_CACHE keeps the debootstrap tarball between runs.
set -eu
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
deb=$(ls dist/faxbot_*_*.deb 2>/dev/null | head -1)
[ -n "$deb" ] || { echo "no dist/faxbot_*.deb: run make package first" >&2; exit 1; }
key=test-package-key-$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')
py=/usr/bin/python3
check="$py $root/tools/package-check.py"
work=$(mktemp -d /var/tmp/faxbot-test-package.XXXXXX)
chroot_dir="$work/root"
server_pid=""
# runc: crun fails here (setrlimit RLIMIT_NPROC); and podman's default rlimits for a
# container (nofile/nproc raised to the maximum) are refused too, so modest ones
export CONTAINERS_CONF="$work/containers.conf"
printf '[containers]\ndefault_ulimits = ["nofile=16384:16384", "nproc=8192:8192"]\n[engine]\nruntime = "runc"\n' > "$CONTAINERS_CONF"
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
    for m in dev/pts dev proc sys; do umount "$chroot_dir/$m" 2>/dev/null || true; done
    podman rm -f faxbot-test-package >/dev/null 2>&1 || true
    podman volume rm -f faxbot-test-package-data >/dev/null 2>&1 || true
    rm -rf "$work"
}
trap cleanup EXIT INT TERM

free_port() { $py -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

need() {   # Debian packages this test needs (not `make test`)
    missing=""
    for p in "$@"; do dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing="$missing $p"; done
    [ -z "$missing" ] || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends $missing
}
need debootstrap podman runc podman-compose

echo "== 1. the .deb in a clean Debian 12 root ($deb)"
tools/debian-root.sh "$chroot_dir"
cp /etc/resolv.conf "$chroot_dir/etc/resolv.conf"
printf '#!/bin/sh\nexit 101\n' > "$chroot_dir/usr/sbin/policy-rc.d"; chmod +x "$chroot_dir/usr/sbin/policy-rc.d"
mount -t proc proc "$chroot_dir/proc"; mount -t sysfs sys "$chroot_dir/sys"; mount --bind /dev "$chroot_dir/dev"
cp "$deb" "$chroot_dir/tmp/"
# a server has systemd (minbase has not): then the package enables the unit as on a real host
chroot "$chroot_dir" sh -c "apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd \
    && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq ./tmp/$(basename "$deb")" >"$work/apt.log" 2>&1 \
    || { tail -30 "$work/apt.log"; exit 1; }
echo "installed: $(chroot "$chroot_dir" dpkg-query -W faxbot)"
unit=/lib/systemd/system/faxbot.service
# enabled: deb-systemd-helper's record (in a chroot it does not link /etc/systemd/system/*.wants,
# for Debian's own units either, e.g. apt-daily.timer)
for f in /usr/bin/faxbot /usr/bin/faxbot-render $unit /usr/share/man/man1/faxbot.1.gz /etc/faxbot/faxbot.env \
         /var/lib/systemd/deb-systemd-helper-enabled/multi-user.target.wants/faxbot.service; do
    [ -e "$chroot_dir$f" ] || { echo "FAIL: $f not installed"; exit 1; }
done
chroot "$chroot_dir" systemd-analyze verify --man=no $unit && echo "systemd-analyze verify (installed unit, in the root): clean"
echo "data dir: $(chroot "$chroot_dir" stat -c '%U:%G %a' /var/lib/faxbot); env file: $(chroot "$chroot_dir" stat -c '%U:%G %a' /etc/faxbot/faxbot.env)"
chroot "$chroot_dir" sh -c 'MANWIDTH=80 zcat /usr/share/man/man1/faxbot.1.gz | grep -c "^\.TP"' | sed 's/^/man page entries: /'
# the admin's part: a key and a port in the settings file
port=$(free_port)
sed -i "s/^FAXBOT_LISTEN=.*/FAXBOT_LISTEN=127.0.0.1:$port/; s/^API_KEY=.*/API_KEY=$key/" "$chroot_dir/etc/faxbot/faxbot.env"
# start it as the unit does
user=$(sed -n 's/^User=//p' "$chroot_dir$unit")
envs=$(sed -n 's/^Environment=//p' "$chroot_dir$unit")
envfile=$(sed -n 's/^EnvironmentFile=//p' "$chroot_dir$unit")
exec_start=$(sed -n 's/^ExecStart=//p' "$chroot_dir$unit")
echo "as the unit: User=$user Environment=$envs EnvironmentFile=$envfile ExecStart=$exec_start"
chroot "$chroot_dir" setpriv --reuid="$user" --regid="$user" --init-groups --no-new-privs \
    sh -c "cd /; set -a; $envs; . $envfile; set +a; umask 077; exec $exec_start" >"$work/deb-server.log" 2>&1 &
server_pid=$!
$check "http://127.0.0.1:$port" "$key" >"$work/check.out"; cat "$work/check.out"; job=$(tail -1 "$work/check.out")
kill -TERM "$server_pid"; rc=0; wait "$server_pid" || rc=$?; server_pid=""
echo "SIGTERM: exit $rc; last log lines:"; tail -3 "$work/deb-server.log"
[ "$rc" = 0 ] || { echo "FAIL: the gateway did not stop cleanly"; cat "$work/deb-server.log"; exit 1; }
echo "data after stop: $(ls "$chroot_dir/var/lib/faxbot" | tr '\n' ' ')"
umount "$chroot_dir/dev" "$chroot_dir/proc" "$chroot_dir/sys"
echo "== 1. PASS"

echo "== 2. the container image"
tools/build-image.sh
podman image inspect --format 'user={{.Config.User}} volumes={{.Config.Volumes}} healthcheck={{.Config.Healthcheck.Test}} entrypoint={{.Config.Entrypoint}} cmd={{.Config.Cmd}}' localhost/faxbot:latest
port=$(free_port)
podman run -d --name faxbot-test-package -p "127.0.0.1:$port:8080" -e API_KEY="$key" \
    -v faxbot-test-package-data:/faxdata localhost/faxbot:latest >/dev/null
$check "http://127.0.0.1:$port" "$key" >"$work/check.out"; cat "$work/check.out"; job=$(tail -1 "$work/check.out")
podman healthcheck run faxbot-test-package && echo "HEALTHCHECK: healthy"
echo "CLI in the image: $(podman exec faxbot-test-package faxbot --version), runs as $(podman exec faxbot-test-package id -un)"
podman exec -e FAXBOT_API_KEY="$key" faxbot-test-package faxbot status "$job" | head -3
podman stop -t 60 faxbot-test-package >/dev/null
rc=$(podman inspect --format '{{.State.ExitCode}}' faxbot-test-package)
echo "podman stop: exit $rc; $(podman logs faxbot-test-package 2>&1 | tail -1)"
[ "$rc" = 0 ] || { echo "FAIL: the container did not stop cleanly"; podman logs faxbot-test-package | tail -20; exit 1; }
podman rm faxbot-test-package >/dev/null
# a new container on the same volume keeps the job and the received fax
podman run -d --name faxbot-test-package -p "127.0.0.1:$port:8080" -e API_KEY="$key" \
    -v faxbot-test-package-data:/faxdata localhost/faxbot:latest >/dev/null
$check "http://127.0.0.1:$port" "$key" --expect-job "$job" --no-send
podman rm -f faxbot-test-package >/dev/null; podman volume rm -f faxbot-test-package-data >/dev/null
echo "== 2. PASS"

echo "== 3. compose.yaml with podman-compose"
port=$(free_port)
proj="$work/compose"
mkdir -p "$proj"
cp compose.yaml "$proj/"
printf 'API_KEY=%s\nFAX_BACKEND=loopback\nFAXBOT_PORT=%s\n' "$key" "$port" > "$proj/.env"
# the image is built above; compose uses it by name (`build: .` would build it again)
sed -i 's/^    build: \.$/    # build: ./' "$proj/compose.yaml"
if (cd "$proj" && podman-compose -p faxbottest up -d) >"$work/compose.log" 2>&1; then
    rc=0; $check "http://127.0.0.1:$port" "$key" || rc=$?
    echo "service name: $(podman ps --filter label=io.podman.compose.project=faxbottest --format '{{.Names}}')"
    (cd "$proj" && podman-compose -p faxbottest down -v) >>"$work/compose.log" 2>&1 || true
    [ "$rc" = 0 ] || { echo "FAIL: the check through compose"; tail -20 "$work/compose.log"; exit 1; }
    echo "== 3. PASS"
else
    echo "== 3. podman-compose failed:"; tail -20 "$work/compose.log"; exit 1
fi
echo "== test-package: all PASS"

#!/usr/bin/env bash
# Build the container image mcp-conductor:latest from an already built binary, with no registry:
# the base is a Debian root filesystem made by mmdebstrap from this machine's apt sources (cached),
# and deploy/Containerfile builds FROM scratch with podman. Nothing is compiled here.
#
#   scripts/build-image.sh [BINARY]
#
# BINARY defaults to the release build: $CARGO_TARGET_DIR/release/mcp-conductor when
# CARGO_TARGET_DIR is set (CI), else ./target/release/mcp-conductor (README's install command).
# Environment:
#   IMAGE          tag to build (default mcp-conductor:latest)
#   ENGINE         the engine label (v8, the only engine)
#   IMAGE_CACHE    work dir outside the checkout (default $HOME/.cache/mcp-conductor/image): the
#                  containers.conf, the cached rootfs tar(s), the build context
#   DEBIAN_SOURCES sources for mmdebstrap, one "deb URI SUITE COMPONENT" per line (default: the
#                  Debian bookworm entries apt is configured with here, security updates included)
#
# podman, runc, iptables and mmdebstrap are installed with apt-get when missing (as root, or with
# sudo). The containers.conf written to $IMAGE_CACHE/containers.conf selects runc (crun fails
# under a hybrid cgroup hierarchy), ulimits within this machine's hard limits, cgroupfs and file
# events when systemd is not PID 1; export CONTAINERS_CONF=$IMAGE_CACHE/containers.conf to run
# the image with the same settings. The rootfs tar is made once per package list and reused.
set -euo pipefail

log() { echo "build-image: $*" >&2; }
fail() { echo "build-image: FAILED: $*" >&2; exit 1; }

# Relative paths are the caller's: resolved before the cd.
if [ -n "${1:-}" ]; then
  binary=$(realpath -m "$1")
elif [ -n "${CARGO_TARGET_DIR:-}" ]; then
  binary=$(realpath -m "$CARGO_TARGET_DIR/release/mcp-conductor")
else
  binary=$(realpath -m "$(dirname "$0")/../target/release/mcp-conductor")
fi
cd "$(dirname "$0")/.."
image="${IMAGE:-mcp-conductor:latest}"
engine="${ENGINE:-v8}"
cache="${IMAGE_CACHE:-$HOME/.cache/mcp-conductor/image}"
suite=bookworm
uid=10001 # the Containerfile's USER and /data owner
packages="base-files,libc6,libgcc-s1,zlib1g,tzdata,netbase,ca-certificates"

[ -f "$binary" ] && [ -x "$binary" ] || fail "no executable binary at $binary (build it first, or pass its path)"
[ "$engine" = v8 ] || fail "ENGINE must be v8 (the only engine), got '$engine'"
case "$(realpath -m "$cache")/" in
  "$(pwd -P)"/*) fail "IMAGE_CACHE ($cache) must be outside the checkout" ;;
esac

# --- tools -------------------------------------------------------------------------------------
missing=()
for pkg in podman runc iptables mmdebstrap; do
  [ "$(dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null)" = "install ok installed" ] || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  log "installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

mkdir -p "$cache"
cache=$(cd "$cache" && pwd -P)

# --- containers.conf ---------------------------------------------------------------------------
# The ulimits podman would copy from its own defaults exceed the hard limits here (runc then fails
# to start the container): give containers the lesser of a sane value and this shell's hard limit.
hard_nofile=$(ulimit -Hn)
hard_nproc=$(ulimit -Hu)
nofile=20000
nproc=4096
[ "$hard_nofile" = unlimited ] || [ "$hard_nofile" -ge "$nofile" ] || nofile=$hard_nofile
[ "$hard_nproc" = unlimited ] || [ "$hard_nproc" -ge "$nproc" ] || nproc=$hard_nproc
conf="$cache/containers.conf"
{
  echo "# Written by scripts/build-image.sh (mcp-conductor); rewritten on every run."
  echo "[containers]"
  echo "default_ulimits = [\"nofile=$nofile:$nofile\", \"nproc=$nproc:$nproc\"]"
  echo "[engine]"
  echo "runtime = \"runc\""
  if [ "$(cat /proc/1/comm 2>/dev/null)" != systemd ]; then
    # No systemd to ask for cgroups or to log events to.
    echo "cgroup_manager = \"cgroupfs\""
    echo "events_logger = \"file\""
  fi
} >"$conf.tmp"
mv "$conf.tmp" "$conf"
export CONTAINERS_CONF="$conf"

# --- root filesystem ---------------------------------------------------------------------------
if [ -z "${DEBIAN_SOURCES:-}" ]; then
  # From apt's view of its configured sources (one-line and deb822 alike): entries such as
  #  500 http://deb.debian.org/debian bookworm/main amd64 Packages
  #      release v=12.15,o=Debian,a=oldstable,n=bookworm,l=Debian,c=main,b=amd64
  DEBIAN_SOURCES=$(apt-cache policy | awk -v suite="$suite" '
    $2 ~ /^(https?|file):/ && $3 ~ "/" && $NF == "Packages" { uri = $2; split($3, sc, "/"); next }
    uri != "" && $1 == "release" {
      if ($2 ~ /(^|,)o=Debian(,|$)/ && (sc[1] == suite || index(sc[1], suite "-") == 1))
        print "deb " uri " " sc[1] " " sc[2]
      uri = ""
    }' | sort -u)
fi
[ -n "$DEBIAN_SOURCES" ] || fail "no Debian $suite apt source configured here: set DEBIAN_SOURCES (\"deb URI $suite main\")"

# Files that `dpkg --configure` would make and an extract-only rootfs lacks: the CA bundle, the
# time zone, passwd/group entries so getpwuid(10001) answers (HOME /data, no shell: the image has
# none), and a dpkg status listing the extracted packages (image scanners read it). Then what the
# server never uses: glibc's iconv modules and manuals (8.7 MB). An extract hook: mmdebstrap 1.3
# skips customize hooks for the extract variant; the .debs are still in the apt cache then.
hook=$(
  cat <<EOF
set -e
for deb in "\$1"/var/cache/apt/archives/*.deb; do
  dpkg-deb -f "\$deb" | sed '/^Package:/a Status: install ok installed'
  echo
done >"\$1/var/lib/dpkg/status"
rm -rf "\$1"/usr/lib/*-linux-gnu/gconv "\$1/usr/share/man" "\$1/usr/share/info"
cat "\$1"/usr/share/ca-certificates/mozilla/*.crt >"\$1/etc/ssl/certs/ca-certificates.crt"
ln -sf /usr/share/zoneinfo/Etc/UTC "\$1/etc/localtime"
echo Etc/UTC >"\$1/etc/timezone"
printf '%s\n' 'root:x:0:0:root:/root:/usr/sbin/nologin' 'nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin' 'mcp-conductor:x:$uid:$uid:mcp-conductor:/data:/usr/sbin/nologin' >"\$1/etc/passwd"
printf '%s\n' 'root:x:0:' 'nogroup:x:65534:' 'mcp-conductor:x:$uid:' >"\$1/etc/group"
EOF
)
key=$(printf '%s\n' "$suite" "$packages" "$DEBIAN_SOURCES" "$hook" | sha256sum | cut -c1-12)
rootfs="$cache/rootfs-$suite-$key.tar"
if [ ! -s "$rootfs" ]; then
  log "making $rootfs from: $(echo "$DEBIAN_SOURCES" | tr '\n' ';')"
  t=$SECONDS
  # Check-Valid-Until off as in this machine's apt config: the mirror may be a dated snapshot.
  mmdebstrap --quiet --variant=extract --format=tar --include="$packages" \
    --aptopt='Acquire::Check-Valid-Until "false"' \
    --extract-hook="$hook" \
    "$suite" "$rootfs.tmp" - <<<"$DEBIAN_SOURCES" \
    || { rm -rf "$rootfs.tmp"; fail "mmdebstrap failed"; }
  mv "$rootfs.tmp" "$rootfs"
  log "rootfs made in $((SECONDS - t)) s"
fi
listing=$(tar -tf "$rootfs")
for f in ./etc/ssl/certs/ca-certificates.crt ./etc/passwd ./usr/share/zoneinfo/Etc/UTC ./etc/services; do
  grep -qxF "$f" <<<"$listing" || fail "$rootfs lacks $f (delete it to remake it)"
done
# Every library the binary links against must be in the rootfs.
for lib in $(ldd "$binary" | awk '$2 == "=>" { print $1 } $1 ~ /^\// { print $1 }'); do
  name=$(basename "$lib")
  grep -qE "/$(printf '%s' "$name" | sed 's/[.]/[.]/g')\$" <<<"$listing" \
    || fail "$binary needs $name, which is not in the rootfs (add its package to packages= in $0)"
done

# --- build context -----------------------------------------------------------------------------
ctx="$cache/context"
rm -rf "$ctx"
mkdir -p "$ctx/data/workspace"
ln "$rootfs" "$ctx/rootfs.tar"
ln "$binary" "$ctx/mcp-conductor" 2>/dev/null || cp "$binary" "$ctx/mcp-conductor"

revision=$(git rev-parse --short=12 HEAD 2>/dev/null || echo unknown)
git diff --quiet HEAD 2>/dev/null || revision="$revision-dirty"
version=$(awk -F'"' '/^version = / { print $2; exit }' Cargo.toml)

log "podman build $image (engine $engine, binary $binary)"
t=$SECONDS
old_id=$(podman image inspect --format '{{.Id}}' "$image" 2>/dev/null || true)
# The labels twice: buildah 1.28 (podman 4.3) reuses cached steps whatever the --build-arg values,
# so the Containerfile's ARG-made labels could be an earlier build's; --label is set at commit.
podman build --pull=never --format docker \
  --build-arg ENGINE="$engine" --build-arg VERSION="$version" --build-arg REVISION="$revision" \
  --label io.mcp-conductor.engine="$engine" --label org.opencontainers.image.version="$version" \
  --label org.opencontainers.image.revision="$revision" \
  -f deploy/Containerfile -t "$image" "$ctx" >&2 || fail "podman build"
log "built in $((SECONDS - t)) s"
# The image this tag named before (another binary): removed with its build cache, unless a
# container still uses it, so rebuilds do not pile up untagged 150 MB images.
new_id=$(podman image inspect --format '{{.Id}}' "$image")
if [ -n "$old_id" ] && [ "$old_id" != "$new_id" ]; then
  podman rmi "$old_id" >/dev/null 2>&1 || log "kept the previous image $old_id (in use)"
fi

# The image answers at all: its dynamic loader, libraries and binary are there.
podman run --rm --pull=never --network=none --no-healthcheck "$image" --version >/dev/null \
  || fail "the image cannot run its binary (podman run --rm $image --version)"

size=$(podman image inspect --format '{{.Size}}' "$image")
bin_size=$(stat -c %s "$binary")
mib() { awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'; }
log "image $image: $(mib "$size") ($(mib $((size - bin_size))) without the binary, binary $(mib "$bin_size"))"
echo "$image"

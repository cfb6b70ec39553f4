#!/usr/bin/env bash
# Prepare a fresh Linux x86_64 machine (Debian 12, Ubuntu 24.04 or another Debian/Ubuntu) to
# build mcp-conductor: the Debian packages the build and the tests need, then Rust through rustup
# at the version rust-toolchain.toml pins. Safe to rerun: it only installs what is missing.
#
#   scripts/setup.sh           install what is missing (apt-get as root, or with sudo)
#   scripts/setup.sh --check   only report what is missing (exit 1 if anything is)
#   scripts/setup.sh --help
#
# Then:  . "${CARGO_HOME:-$HOME/.cargo}/env" && cargo build --release --locked
#
# Environment:
#   CARGO_HOME, RUSTUP_HOME            where rustup and the toolchains go (~/.cargo, ~/.rustup)
#   CARGO_TARGET_DIR                   where the build goes (default ./target): its free space
#                                      is checked
#   MCP_CONDUCTOR_SETUP_RUSTUP_INIT    path of a local rustup-init binary, run instead of
#                                      downloading it from https://sh.rustup.rs (offline, CI)
#   RUSTY_V8_ARCHIVE, RUSTY_V8_SRC_BINDING_PATH
#                                      a local V8 library and binding for machines without
#                                      GitHub access (docs/building.md): checked when set
set -euo pipefail

usage() {
  cat <<'EOF'
Usage: scripts/setup.sh [--check]

Prepares this machine (Linux x86_64; Debian or Ubuntu, e.g. Debian 12 or Ubuntu 24.04) to build
mcp-conductor, installing only what is missing:

  1. Debian packages, with apt-get (as root, or through sudo):
       build-essential  C/C++ compiler and make (V8 glue, jemalloc, SQLite, ...)
       libclang-dev     libclang for bindgen (deno's bundled SQLite)
       pkg-config, curl, ca-certificates, git, python3
       npm              for the tests and `mcp-conductor packages add` (skipped when an npm
                        is already on PATH, e.g. NodeSource's nodejs)
     On other distributions it prints the equivalent list to install by hand.
  2. Free disk space where the build goes ($CARGO_TARGET_DIR, else ./target): it warns below
     8 GB (a release build takes ~6 GB, and ~30 min on 2 cores).
  3. Rust: rustup (into ${CARGO_HOME:-~/.cargo}; from https://sh.rustup.rs, or the local
     rustup-init named by MCP_CONDUCTOR_SETUP_RUSTUP_INIT), then the toolchain pinned in
     rust-toolchain.toml with the minimal profile (rustc, cargo, std). An older rustc/cargo
     from the distribution (Debian 12 has 1.63) is left alone: rustup's ~/.cargo/bin comes
     first in PATH once you source ~/.cargo/env.
  4. V8: the build downloads V8's prebuilt static library from GitHub; without GitHub access
     set RUSTY_V8_ARCHIVE and RUSTY_V8_SRC_BINDING_PATH (docs/building.md). When set, the files
     are checked.

Options:
  --check   only report what is missing; exit 1 if anything is, 0 if all is in place
  --help    this text

Then:
  . "${CARGO_HOME:-$HOME/.cargo}/env" && cargo build --release --locked && ./target/release/mcp-conductor
EOF
}

log() { echo "setup: $*" >&2; }
warn() { echo "setup: warning: $*" >&2; }
fail() {
  echo "setup: error: $*" >&2
  exit 1
}

check=false
for arg in "$@"; do
  case "$arg" in
    -h | --help) usage; exit 0 ;;
    --check) check=true ;;
    *) echo "setup: unknown argument '$arg' (see scripts/setup.sh --help)" >&2; exit 2 ;;
  esac
done

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
cd "$repo"
problems=() # what --check reports as missing (install mode fails before it gets here)

# --- platform -----------------------------------------------------------------------------------
os=$(uname -s)
arch=$(uname -m)
other_os="mcp-conductor builds and runs natively on Linux x86_64 (glibc) only. On macOS or Windows, run its container image in a Linux x86_64 container engine (Docker Desktop, podman) and connect to it over HTTP: see docs/deployment.md (container image) and docs/http.md."
[ "$os" = Linux ] || fail "this is $os, not Linux. $other_os"
[ "$arch" = x86_64 ] || fail "this machine is $arch, not x86_64. $other_os"
if ldd --version 2>&1 | grep -qi musl; then
  fail "this Linux uses musl libc (Alpine?); the build needs glibc (V8's prebuilt library links against it). $other_os"
fi

# --- Debian packages ----------------------------------------------------------------------------
packages=(build-essential libclang-dev pkg-config curl ca-certificates git python3 npm)
os_id="" os_like="" os_name="unknown Linux"
if [ -r /etc/os-release ]; then
  # shellcheck source=/dev/null
  eval "$(. /etc/os-release && printf 'os_id=%q os_like=%q os_name=%q\n' "${ID:-}" "${ID_LIKE:-}" "${PRETTY_NAME:-${NAME:-unknown Linux}}")"
fi
debian_like=false
not_debian="$os_name is not Debian or Ubuntu"
case " $os_id $os_like " in
  *" debian "* | *" ubuntu "*)
    if command -v apt-get >/dev/null && command -v dpkg-query >/dev/null; then
      debian_like=true
    else
      not_debian="$os_name has no apt-get/dpkg-query"
    fi
    ;;
esac

installed() { [ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null)" = "install ok installed" ]; }

if $debian_like; then
  missing=()
  present=()
  for pkg in "${packages[@]}"; do
    # Any npm will do (a NodeSource nodejs brings its own, and conflicts with Debian's npm).
    if [ "$pkg" = npm ] && ! installed npm && command -v npm >/dev/null; then
      present+=("(npm: $(command -v npm))")
      continue
    fi
    if installed "$pkg"; then present+=("$pkg"); else missing+=("$pkg"); fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    log "$os_name: the Debian packages are installed: ${present[*]}"
  elif $check; then
    log "$os_name: missing Debian packages: ${missing[*]}"
    problems+=("Debian packages: ${missing[*]}")
  else
    sudo=()
    if [ "$(id -u)" -ne 0 ]; then
      if command -v sudo >/dev/null; then
        sudo=(sudo)
      else
        log "missing Debian packages: ${missing[*]}"
        fail "not root and no sudo here: run this as root, then rerun scripts/setup.sh:
  apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends ${missing[*]}"
      fi
    fi
    log "$os_name: installing ${missing[*]} with ${sudo[*]:+sudo }apt-get"
    if [ ${#sudo[@]} -gt 0 ] && ! sudo -n true 2>/dev/null; then
      log "apt-get needs root: sudo may ask for your password"
    fi
    "${sudo[@]}" apt-get update -qq >&2 || fail "${sudo[*]:+sudo }apt-get update failed (see above)"
    if ! "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2; then
      hint=""
      [ "$os_id" = ubuntu ] && hint=" (on Ubuntu, npm and some others are in the universe component: ${sudo[*]:+sudo }add-apt-repository universe)"
      fail "apt-get install ${missing[*]} failed$hint"
    fi
    still=()
    for pkg in "${missing[@]}"; do installed "$pkg" || still+=("$pkg"); done
    [ ${#still[@]} -eq 0 ] || fail "still not installed after apt-get: ${still[*]}"
    log "installed ${missing[*]}"
  fi
else
  log "$not_debian: install these by hand with its package manager:"
  log "  a C/C++ toolchain with make (Debian: build-essential; Fedora: gcc gcc-c++ make), libclang"
  log "  development files (libclang-dev; Fedora: clang-devel), pkg-config, curl, CA certificates,"
  log "  git, python3, npm (for the tests and \`mcp-conductor packages add\`)"
  miss_cmds=()
  for cmd in cc c++ make pkg-config curl git python3 npm; do
    command -v "$cmd" >/dev/null || miss_cmds+=("$cmd")
  done
  if [ ${#miss_cmds[@]} -gt 0 ]; then
    warn "not on PATH: ${miss_cmds[*]}"
    $check && problems+=("commands: ${miss_cmds[*]}")
  fi
  # (libclang cannot be checked by command; bindgen says so at build time if it is missing.)
fi

# --- disk space ---------------------------------------------------------------------------------
target_dir=${CARGO_TARGET_DIR:-$repo/target}
probe=$target_dir
while [ ! -e "$probe" ] && [ "$probe" != / ]; do probe=$(dirname "$probe"); done
free_kb=$(df -Pk "$probe" 2>/dev/null | awk 'NR == 2 { print $4 }')
if [ -n "$free_kb" ]; then
  free_gb=$((free_kb / 1024 / 1024))
  if [ "$free_gb" -lt 8 ]; then
    warn "only $free_gb GB free on the filesystem of $target_dir: a release build takes ~6 GB (8 GB free recommended); set CARGO_TARGET_DIR to a roomier place"
  else
    log "$free_gb GB free for the build in $target_dir (it takes ~6 GB)"
  fi
fi
log "the build takes ~30 min on 2 cores (it compiles ~720 crates, deno's runtime among them)"

# --- Rust ---------------------------------------------------------------------------------------
ver=$(sed -n 's/^[[:space:]]*channel[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' rust-toolchain.toml 2>/dev/null | head -n 1)
[ -n "$ver" ] || fail "no channel = \"...\" in $repo/rust-toolchain.toml"
host=x86_64-unknown-linux-gnu
toolchain="$ver-$host"
cargo_home=${CARGO_HOME:-$HOME/.cargo}

if [ "$(id -u)" -eq 0 ] && [ -n "${SUDO_USER:-}" ] && [ "$SUDO_USER" != root ]; then
  warn "running as root through sudo: Rust goes into $cargo_home for root, not for $SUDO_USER (run scripts/setup.sh as $SUDO_USER instead; it uses sudo for apt-get itself)"
fi

find_rustup() {
  if command -v rustup >/dev/null; then
    command -v rustup
  elif [ -x "$cargo_home/bin/rustup" ]; then
    echo "$cargo_home/bin/rustup"
  fi
}
rustup=$(find_rustup)

if [ -z "$rustup" ]; then
  # A rustc/cargo without rustup (the distribution's): it does not read rust-toolchain.toml.
  for tool in rustc cargo; do
    if path=$(command -v "$tool"); then
      have=$("$tool" --version 2>/dev/null | awk '{ print $2 }')
      if [ -n "$have" ] && [ "$(printf '%s\n' "$have" "$ver" | sort -V | head -n 1)" != "$ver" ]; then
        log "$path is $tool $have, older than the $ver this repository needs (Debian 12's apt Rust is 1.63): rustup's toolchain will take precedence (\$HOME/.cargo/bin first in PATH)"
      else
        log "$path is $tool ${have:-of unknown version}; rustup is still needed for rust-toolchain.toml and ~/.cargo/env"
      fi
    fi
  done
  if $check; then
    log "rustup is not installed (neither on PATH nor in $cargo_home/bin)"
    problems+=("rustup and Rust $ver")
  else
    args=(-y --profile minimal --default-toolchain none)
    if [ -n "${MCP_CONDUCTOR_SETUP_RUSTUP_INIT:-}" ]; then
      init=$MCP_CONDUCTOR_SETUP_RUSTUP_INIT
      { [ -f "$init" ] && [ -x "$init" ]; } || fail "MCP_CONDUCTOR_SETUP_RUSTUP_INIT=$init is not an executable file"
      log "installing rustup into $cargo_home with the local $init"
      case "$(basename "$init")" in
        rustup-init*) "$init" "${args[@]}" >&2 || fail "$init ${args[*]} failed" ;;
        *)
          # The rustup binary acts as its installer only under the name rustup-init.
          tmp=$(mktemp -d)
          cp "$init" "$tmp/rustup-init"
          "$tmp/rustup-init" "${args[@]}" >&2 || { rm -rf "$tmp"; fail "$init ${args[*]} failed"; }
          rm -rf "$tmp"
          ;;
      esac
    else
      command -v curl >/dev/null || fail "curl is needed to download rustup (install curl, or set MCP_CONDUCTOR_SETUP_RUSTUP_INIT to a local rustup-init)"
      log "installing rustup into $cargo_home from https://sh.rustup.rs"
      curl --proto '=https' --tlsv1.2 -sSf https://sh.rustup.rs | sh -s -- "${args[@]}" >&2 \
        || fail "could not install rustup from https://sh.rustup.rs (no internet access?). Get rustup-init another way (https://rust-lang.github.io/rustup/installation/other.html) and rerun with MCP_CONDUCTOR_SETUP_RUSTUP_INIT=/path/to/rustup-init"
    fi
    rustup="$cargo_home/bin/rustup"
    [ -x "$rustup" ] || fail "rustup-init finished but there is no $rustup"
  fi
fi

if [ -n "$rustup" ]; then
  toolchain_ok=true
  if "$rustup" toolchain list 2>/dev/null | grep -qE "^${toolchain//./\\.}( |$)"; then
    log "Rust $ver is installed ($toolchain, with $rustup)"
  elif $check; then
    toolchain_ok=false
    log "Rust $ver ($toolchain) is not installed in rustup ($rustup)"
    problems+=("Rust toolchain $toolchain")
  else
    # Only when missing: on an installed toolchain `rustup toolchain install` goes online to
    # look for an update of it.
    log "installing Rust $ver ($toolchain, minimal profile: rustc, cargo, std) with $rustup"
    "$rustup" toolchain install "$ver" --profile minimal --no-self-update >&2 \
      || fail "rustup toolchain install $ver failed (it downloads from https://static.rust-lang.org)"
  fi

  # (Nothing below runs with the toolchain missing: some rustup versions install it on use.)
  if $toolchain_ok; then
    # No default toolchain (rustup-init above sets none): the pinned one, so cargo also works
    # outside this checkout. An existing default is left alone.
    if ! "$rustup" default >/dev/null 2>&1; then
      if $check; then
        log "rustup has no default toolchain (cargo works only inside this checkout); scripts/setup.sh makes it $ver"
      else
        "$rustup" default "$ver" >&2 || warn "rustup default $ver failed"
      fi
    fi
    # What cargo will run inside the checkout: a `rustup override` or RUSTUP_TOOLCHAIN wins
    # over rust-toolchain.toml.
    active=$("$rustup" show active-toolchain 2>/dev/null | awk '{ print $1; exit }' || true)
    if [ -n "$active" ] && [ "$active" != "$toolchain" ]; then
      warn "inside $repo rustup selects $active, not $toolchain (a \`rustup override\` or RUSTUP_TOOLCHAIN?); rust-toolchain.toml pins $ver"
    fi
    if [ -x "$cargo_home/bin/cargo" ] && rustc_version=$("$cargo_home/bin/rustc" --version 2>/dev/null); then
      log "$rustc_version (inside $repo)"
    fi
  fi

  # The README's line sources $cargo_home/env, which rustup-init writes; a rustup that came from
  # a distribution package does not.
  if [ ! -f "$cargo_home/env" ]; then
    if $check; then
      log "$cargo_home/env does not exist"
      problems+=("$cargo_home/env")
    else
      mkdir -p "$cargo_home/bin"
      cat >"$cargo_home/env" <<EOF
#!/bin/sh
# Written by mcp-conductor's scripts/setup.sh, as rustup-init writes it: cargo's bin directory
# first in PATH.
case ":\${PATH}:" in
    *:"$cargo_home/bin":*)
        ;;
    *)
        export PATH="$cargo_home/bin:\$PATH"
        ;;
esac
EOF
      log "wrote $cargo_home/env"
    fi
  fi
fi

# --- the reference deno (tests only) ------------------------------------------------------------
# The test command's fidelity test compares our output with `deno run` of the release whose V8
# matches ours (tests/fidelity/DENO_VERSION). It is taken from PyPI (its wheel carries the deno
# binary) into ~/.cache/mcp-conductor/deno-<version>/bin/deno, where the test looks for it.
deno_version=$(cat "$repo/tests/fidelity/DENO_VERSION" 2>/dev/null || true)
if [ -n "$deno_version" ]; then
  deno_dir="$HOME/.cache/mcp-conductor/deno-$deno_version"
  if [ -x "$deno_dir/bin/deno" ]; then
    log "reference deno $deno_version (for the tests): $deno_dir/bin/deno"
  elif $check; then
    problems+=("the reference deno $deno_version for the tests ($deno_dir/bin/deno)")
  else
    log "installing the reference deno $deno_version for the tests (PyPI wheel) into $deno_dir"
    DENO_VERSION="$deno_version" DENO_DIR_OUT="$deno_dir" python3 - <<'PY' || fail "could not install deno $deno_version from PyPI (the tests need it; the server does not)"
import io, json, os, stat, urllib.request, zipfile
version, out = os.environ["DENO_VERSION"], os.environ["DENO_DIR_OUT"]
import hashlib
# PyPI's simple index in its JSON form (PEP 691): file names, URLs and sha256 digests.
index = urllib.request.Request("https://pypi.org/simple/deno/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
files = json.load(urllib.request.urlopen(index, timeout=60))["files"]
wheel = next(f for f in files if f["filename"].startswith(f"deno-{version}-") and f["filename"].endswith("manylinux_2_27_x86_64.whl"))
data = urllib.request.urlopen(wheel["url"], timeout=300).read()
if hashlib.sha256(data).hexdigest() != wheel["hashes"]["sha256"]:
    raise SystemExit("sha256 mismatch for " + wheel["filename"])
member = next(n for n in zipfile.ZipFile(io.BytesIO(data)).namelist() if n.endswith("/scripts/deno") or n.endswith("/bin/deno"))
os.makedirs(out + "/bin", exist_ok=True)
tmp = out + "/bin/deno.tmp"
with open(tmp, "wb") as f:
    f.write(zipfile.ZipFile(io.BytesIO(data)).read(member))
os.chmod(tmp, 0o755)
os.rename(tmp, out + "/bin/deno")
PY
    log "reference deno: $("$deno_dir/bin/deno" --version 2>/dev/null | head -n 1)"
  fi
fi

# --- V8 -----------------------------------------------------------------------------------------
if [ -z "${RUSTY_V8_ARCHIVE:-}" ]; then
  log "V8: the build downloads V8's prebuilt static library from GitHub; without GitHub access set RUSTY_V8_ARCHIVE and RUSTY_V8_SRC_BINDING_PATH to a local copy (see docs/building.md)"
else
  v8_ok=true
  for var in RUSTY_V8_ARCHIVE RUSTY_V8_SRC_BINDING_PATH; do
    val=${!var:-}
    if [ -z "$val" ]; then
      warn "RUSTY_V8_ARCHIVE is set but $var is not: the build would still download the binding from GitHub (see docs/building.md)"
    elif [ ! -f "$val" ]; then
      v8_ok=false
      log "V8: $var=$val does not exist"
      problems+=("$var file $val")
    fi
  done
  $v8_ok && log "V8: from $RUSTY_V8_ARCHIVE"
  if ! $v8_ok && ! $check; then fail "fix RUSTY_V8_ARCHIVE / RUSTY_V8_SRC_BINDING_PATH (docs/building.md)"; fi
fi

# --- result -------------------------------------------------------------------------------------
if $check; then
  if [ ${#problems[@]} -gt 0 ]; then
    log "missing:"
    for p in "${problems[@]}"; do log "  - $p"; done
    log "run scripts/setup.sh to install them"
    exit 1
  fi
  log "everything the build needs is in place"
  exit 0
fi

log "done. Next:"
if [ "$(command -v cargo 2>/dev/null || true)" != "$cargo_home/bin/cargo" ]; then
  log "  . \"$cargo_home/env\"        # puts $cargo_home/bin first in PATH, in this shell"
fi
log "  cargo build --release --locked"
log "  ${CARGO_TARGET_DIR:-./target}/release/mcp-conductor"

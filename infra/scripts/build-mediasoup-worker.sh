#!/usr/bin/env bash
# Installs the mediasoup worker wisp runs, at node_modules/mediasoup/worker/out/Release/
# mediasoup-worker (where mediasoup's JavaScript looks for it), and applies wisp's patch to
# mediasoup's JavaScript. See infra/mediasoup/README.md for what the patches do and why.
#
# The worker is built offline from the npm tarball against Debian's own libraries (OpenSSL 3,
# libuv, libsrtp2, abseil, flatbuffers) with Debian's meson and ninja: about 15 minutes cold
# on 2 cores. The binary is cached outside the checkout, keyed by everything that goes into
# it (mediasoup version, wisp's worker patch, the recipe below, compiler and library package
# versions), so a fresh clone on the same machine installs it in a second:
#   ${WISP_CACHE_DIR:-${XDG_CACHE_HOME:-~/.cache}/wisp}/mediasoup-worker/<version>-<key>/
# MEDIASOUP_WORKER_BIN (a worker built elsewhere) skips all of this; see the README there.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pkg="$root/node_modules/mediasoup"
want="3.27.1"
patches="$root/infra/mediasoup"
bin="$pkg/worker/out/Release/mediasoup-worker"
# Bump when the build steps below change in a way that changes the binary.
recipe="wisp-recipe-2"
meson_args=(--wrap-mode=nodownload --buildtype release -Db_ndebug=true)

say() { echo "build-mediasoup-worker: $*"; }
fail() {
  echo "build-mediasoup-worker: FAILED: $*" >&2
  exit 1
}

[ -f "$pkg/package.json" ] || fail "$pkg is missing; run npm install first (npm run setup does)"
have="$(node -p "require('$pkg/package.json').version")"
[ "$have" = "$want" ] || fail "expected mediasoup $want, found $have (the version is pinned in package.json and here)"

# Applies a patch unless it is already applied (idempotent, so setup can run again). A copy
# of what was applied is kept beside the package, so a changed patch replaces the old one.
apply_patch() {
  local file="$1" name
  name="$(basename "$file")"
  local applied="$pkg/.wisp-applied-$name"
  if [ -f "$applied" ] && ! cmp -s "$applied" "$file"; then
    patch -d "$pkg" -p1 -R -s -f <"$applied" >/dev/null ||
      fail "cannot take the previous $name out of node_modules/mediasoup (rm -rf node_modules/mediasoup and run npm run setup again)"
    rm -f "$applied"
  fi
  if patch -d "$pkg" -p1 -R --dry-run -s -f <"$file" >/dev/null 2>&1; then
    cp "$file" "$applied"
    return 0
  fi
  patch -d "$pkg" -p1 --forward -s -f <"$file" >/dev/null ||
    fail "cannot apply $file to mediasoup $have (the package in node_modules was modified; rm -rf node_modules/mediasoup and run npm run setup again)"
  cp "$file" "$applied"
}

# 1. mediasoup's JavaScript: header extensions matched by URI at the viewer's own ids.
apply_patch "$patches/node.patch"
say "JavaScript patched (infra/mediasoup/node.patch)"

if [ -n "${MEDIASOUP_WORKER_BIN:-}" ] && [ "${MEDIASOUP_WORKER_BIN}" != /skip ]; then
  say "MEDIASOUP_WORKER_BIN=$MEDIASOUP_WORKER_BIN given: not building (that worker must carry infra/mediasoup/worker.patch)"
  exit 0
fi

# 2. The worker, from the cache or built.
libs=(libssl-dev libuv1-dev libsrtp2-dev libabsl-dev libflatbuffers-dev flatbuffers-compiler meson)
inputs="$(
  echo "mediasoup $want"
  echo "$recipe ${meson_args[*]}"
  sha256sum <"$patches/worker.patch"
  (g++ --version 2>/dev/null || echo 'no g++') | head -n 1
  dpkg-query -W -f='${Package} ${Version}\n' "${libs[@]}" 2>/dev/null || echo 'libraries missing'
)"
key="$(printf '%s\n' "$inputs" | sha256sum | cut -c1-16)"
cache_root="${WISP_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/wisp}/mediasoup-worker"
cache="$cache_root/$want-$key"

# A worker run bare exits 41 ("you don't seem to be my real father"), which proves that it
# starts and finds its shared libraries (a missing one gives 127).
check_bin() {
  local code=0
  env -i "$1" >/dev/null 2>&1 || code=$?
  [ "$code" = 41 ]
}

if [ -x "$cache/mediasoup-worker" ] && check_bin "$cache/mediasoup-worker"; then
  mkdir -p "$(dirname "$bin")"
  install -m 0755 "$cache/mediasoup-worker" "$bin.tmp" && mv -f "$bin.tmp" "$bin"
  say "worker $want from the cache ($cache)"
  exit 0
fi

for tool in meson ninja pkg-config flatc g++; do
  command -v "$tool" >/dev/null 2>&1 ||
    fail "'$tool' not found; the worker build needs meson, ninja-build, pkg-config, flatbuffers-compiler and g++ (npm run setup installs them)"
done
for lib in openssl libuv libsrtp2 flatbuffers absl_strings absl_optional; do
  pkg-config --exists "$lib" ||
    fail "library '$lib' not found by pkg-config; the worker build needs libssl-dev, libuv1-dev, libsrtp2-dev, libflatbuffers-dev and libabsl-dev (npm run setup installs them)"
done

apply_patch "$patches/worker.patch"

log="$cache_root/build-$want-$key.log"
mkdir -p "$cache_root"
say "building mediasoup $want worker against the system libraries (about 15 minutes cold on 2 cores; log: $log)"
start=$(date +%s)
jobs="${WISP_BUILD_JOBS:-$(nproc)}"
build="$pkg/worker/out/Release/build"
if ! (
  cd "$pkg/worker"
  if [ ! -f "$build/build.ninja" ]; then
    meson setup "${meson_args[@]}" --prefix "$PWD/out/Release" --bindir "" --libdir "" "$build"
  fi
  nice -n 10 ninja -C "$build" -j "$jobs" mediasoup-worker
  meson install -C "$build" --no-rebuild --tags mediasoup-worker
) >"$log" 2>&1; then
  echo "build-mediasoup-worker: FAILED to build the worker. Last lines of $log:" >&2
  tail -n 40 "$log" >&2
  exit 1
fi
check_bin "$bin" || fail "the built worker $bin does not start (run it by hand to see why)"

tmp="$(mktemp -d "$cache_root/.tmp.XXXXXX")"
cp "$bin" "$tmp/mediasoup-worker"
printf '%s\n' "$inputs" >"$tmp/inputs.txt"
rm -rf "$cache"
mv "$tmp" "$cache"
say "built in $(($(date +%s) - start))s -> $bin (cached in $cache)"

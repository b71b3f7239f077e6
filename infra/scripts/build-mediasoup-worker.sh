#!/usr/bin/env bash
# Builds the mediasoup worker from the npm tarball, offline, into
# node_modules/mediasoup/worker/out/Release/mediasoup-worker (where mediasoup looks for it).
# mediasoup 3.8.4 is the newest release whose tarball bundles every worker dependency; see
# ../../docs/operations.md ("mediasoup worker") for why and what is patched.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
pkg="$root/node_modules/mediasoup"
want="3.8.4"
bin="$pkg/worker/out/Release/mediasoup-worker"
# Bump the suffix whenever the patches below change, so existing builds are redone.
stamp="$pkg/worker/out/.built-$want-wisp1"

if [ ! -f "$pkg/package.json" ]; then
  echo "build-mediasoup-worker: $pkg is missing; run npm install first" >&2
  exit 1
fi
have="$(node -p "require('$pkg/package.json').version")"
if [ "$have" != "$want" ]; then
  echo "build-mediasoup-worker: expected mediasoup $want, found $have (the version is pinned in package.json)" >&2
  exit 1
fi
# wisp's own patch (see patch-mediasoup.mjs): libwebrtc's header-extension numbering. It is
# idempotent and also patches mediasoup's JavaScript, so it runs even when the worker is cached.
node "$root/infra/scripts/patch-mediasoup.mjs" "$pkg"

if [ -x "$bin" ] && [ -f "$stamp" ]; then
  echo "build-mediasoup-worker: worker already built ($bin)"
  exit 0
fi

# Bundled abseil fails against glibc >= 2.34, where SIGSTKSZ is no longer a constant.
absl="$pkg/worker/deps/libwebrtc/deps/abseil-cpp/abseil-cpp/absl/debugging/failure_signal_handler.cc"
if grep -q 'std::max(SIGSTKSZ, 65536)' "$absl"; then
  sed -i 's/std::max(SIGSTKSZ, 65536)/std::max<size_t>(SIGSTKSZ, 65536)/' "$absl"
fi

echo "build-mediasoup-worker: building mediasoup $want worker (about 3-5 minutes on 2 cores)..."
log="$pkg/worker/build.log"
start=$(date +%s)
if ! (cd "$pkg/worker" && env PYTHON=python3 PYTHONPATH="$root/infra/python${PYTHONPATH:+:$PYTHONPATH}" \
      MEDIASOUP_WORKER_BIN= make -C . >"$log" 2>&1); then
  echo "build-mediasoup-worker: FAILED. Last lines of $log:" >&2
  tail -n 40 "$log" >&2
  echo "build-mediasoup-worker: the worker needs python3, make and g++ (infra/setup.sh installs them)." >&2
  exit 1
fi
touch "$stamp"
echo "build-mediasoup-worker: built in $(( $(date +%s) - start ))s -> $bin"

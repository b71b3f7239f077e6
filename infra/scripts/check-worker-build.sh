#!/usr/bin/env bash
# Rebuilds the mediasoup worker the way a fresh machine does (npm tarball, wisp's patches,
# Debian's libraries, meson + ninja) into an empty cache, in a scratch copy of the package,
# and checks that the result starts and is byte for byte the worker setup installed. Run by
# .ci/run, so the cold path of build-mediasoup-worker.sh stays tested even when every CI run
# takes the worker from the cache. ccache makes it quick after the first build of a version.
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
installed="$root/node_modules/mediasoup/worker/out/Release/mediasoup-worker"
[ -x "$installed" ] || { echo "check-worker-build: no installed worker; run npm run setup" >&2; exit 1; }

scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
# A pristine package from the npm tarball, laid out as in node_modules.
version="$(node -p "require('$root/node_modules/mediasoup/package.json').version")"
(cd "$scratch" && npm pack --silent "mediasoup@$version" >/dev/null && tar xzf "mediasoup-$version.tgz")
mkdir -p "$scratch/project/node_modules" "$scratch/project/infra"
mv "$scratch/package" "$scratch/project/node_modules/mediasoup"
cp -r "$root/infra/scripts" "$root/infra/mediasoup" "$scratch/project/infra/"

start=$(date +%s)
WISP_CACHE_DIR="$scratch/cache" MEDIASOUP_WORKER_BIN= bash "$scratch/project/infra/scripts/build-mediasoup-worker.sh"
built="$scratch/project/node_modules/mediasoup/worker/out/Release/mediasoup-worker"
if ! cmp -s "$built" "$installed"; then
  echo "check-worker-build: FAILED: a fresh build differs from the installed worker (the cache key misses an input?)" >&2
  exit 1
fi
echo "check-worker-build: a fresh build ($(($(date +%s) - start))s) is identical to the installed worker"

#!/usr/bin/env bash
# Sets up everything wisp needs on a Debian/Ubuntu machine, idempotently:
#   1. system packages (Debian's archive): build tools for the mediasoup worker, ffmpeg;
#      with --test also redis-server and chromium (the test suite runs the real things);
#   2. npm dependencies;
#   3. the mediasoup worker, built offline from the npm tarball (infra/scripts/);
#   4. the player's web assets.
# Usage: npm run setup            (run the platform)
#        npm run setup -- --test  (run the tests too)
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"
with_test=0
for arg in "$@"; do
  case "$arg" in
    --test) with_test=1 ;;
    *) echo "setup: unknown option $arg (only --test)" >&2; exit 2 ;;
  esac
done
start=$(date +%s)
step() { printf '\n==> %s\n' "$*"; }

# 1. System packages. Each entry is "command:package".
wanted=(python3:python3 make:make g++:g++ ffmpeg:ffmpeg)
if [ "$with_test" = 1 ]; then
  wanted+=(redis-server:redis-server chromium:chromium)
fi
missing=()
for entry in "${wanted[@]}"; do
  command -v "${entry%%:*}" >/dev/null 2>&1 || missing+=("${entry##*:}")
done
if [ "${#missing[@]}" -gt 0 ]; then
  step "installing system packages: ${missing[*]}"
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup: please install ${missing[*]} with your package manager (no apt-get here)" >&2
    exit 1
  fi
  sudo=""
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then sudo="sudo"; else
      echo "setup: need root (or sudo) to install: ${missing[*]}" >&2
      exit 1
    fi
  fi
  export DEBIAN_FRONTEND=noninteractive
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" fonts-liberation >/dev/null
else
  step "system packages present"
fi

# 2. npm dependencies. MEDIASOUP_WORKER_BIN stops mediasoup's own postinstall from trying to
# build the worker (npm 10 runs dependency install scripts, npm 11 doesn't): step 3 builds
# it deliberately.
step "installing npm dependencies"
if [ -d node_modules ]; then
  MEDIASOUP_WORKER_BIN=/skip npm install --no-audit --no-fund --loglevel=error
else
  MEDIASOUP_WORKER_BIN=/skip npm ci --no-audit --no-fund --loglevel=error
fi

# 3. mediasoup worker (cached in node_modules: built once, about 3-4 minutes on 2 cores).
step "mediasoup worker"
bash infra/scripts/build-mediasoup-worker.sh

# 4. Player assets.
step "player assets"
npm run --silent build -w @wisp/player

step "setup done in $(( $(date +%s) - start ))s"

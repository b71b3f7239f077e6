#!/usr/bin/env bash
# Sets up everything wisp needs on a Debian/Ubuntu machine, idempotently:
#   1. system packages (Debian's archive): the mediasoup worker's build tools and libraries,
#      ffmpeg; with --test also redis-server, chromium, firefox-esr, GStreamer and coturn (the
#      test suite runs the real things);
#   2. npm dependencies;
#   3. the mediasoup worker, built offline against Debian's libraries and cached outside the
#      checkout (infra/scripts/build-mediasoup-worker.sh);
#   4. the player's web assets;
#   5. a check of the ffmpeg the recorder will use (FFMPEG_PATH, ffmpeg-static or PATH).
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

# 1. System packages (Debian's archive). The mediasoup worker is built against Debian's own
# OpenSSL 3, libuv, libsrtp2, abseil and flatbuffers (infra/mediasoup/README.md) and needs
# their runtime libraries to run, so they are wanted on every machine.
wanted=(python3 make g++ pkg-config meson ninja-build ccache flatbuffers-compiler
  libflatbuffers-dev libssl-dev libuv1-dev libsrtp2-dev libabsl-dev ffmpeg)
if [ "$with_test" = 1 ]; then
  # The tests run the real things: Redis, Chromium, stock Firefox, GStreamer publishers, a
  # coturn TURN server (started by the TURN tests themselves on loopback, never as the
  # package's service) and the openssl tool (an independent HMAC for the credential tests).
  wanted+=(redis-server chromium firefox-esr fonts-liberation gstreamer1.0-tools
    gstreamer1.0-plugins-base gstreamer1.0-plugins-good coturn openssl)
fi
missing=()
if command -v dpkg-query >/dev/null 2>&1; then
  for package in "${wanted[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed' ||
      missing+=("$package")
  done
else
  echo "setup: no dpkg here; make sure these are installed: ${wanted[*]}" >&2
fi
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
  if ! $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/tmp/wisp-apt.log 2>&1; then
    echo "setup: apt-get install failed; last lines of /tmp/wisp-apt.log:" >&2
    tail -n 20 /tmp/wisp-apt.log >&2
    exit 1
  fi
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

# 3. mediasoup worker: from the cache outside the checkout, or built (about 15 minutes cold
# on 2 cores; infra/scripts/build-mediasoup-worker.sh).
step "mediasoup worker"
bash infra/scripts/build-mediasoup-worker.sh

# 4. Player assets.
step "player assets"
npm run --silent build -w @wisp/player

# 5. The recorder's ffmpeg: the one it will use, and that it can record.
step "recorder ffmpeg"
node --import tsx recorder/src/bin/check-ffmpeg.ts

step "setup done in $(( $(date +%s) - start ))s"

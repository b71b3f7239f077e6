# syntax=docker/dockerfile:1
# The wisp image: every role in one image, chosen at run time by ROLES (infra/k8s). It is
# built by infra/setup.sh itself, the steps `npm run setup` runs on a Debian machine
# (system packages, npm dependencies, the mediasoup worker built against Debian's
# libraries, the player's assets, the ffmpeg check), so the list of what wisp needs is
# kept in one place. The build tools stay in the image: the worker links Debian's shared
# libraries, which their -dev packages bring, and tsx (which runs wisp) is a dev dependency.
#
# Build: docker build -t wisp .   (BuildKit; the worker build, ~15 minutes cold on 2 cores,
# is cached in a cache mount and reused while its inputs do not change)
# Never built on the project's own machines, which have no Docker engine (docs/operations.md).

# Debian 12 (bookworm), what setup.sh's package names are for. Node 22: Node 20 (what CI
# tests) left upstream support in April 2026 and mediasoup 3.27 declares Node >= 22.
ARG NODE_IMAGE=node:22-bookworm
FROM ${NODE_IMAGE}

# tini as PID 1: passes SIGTERM on to wisp (which drains) and reaps orphaned children.
RUN apt-get update -qq \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends tini \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /app
# Everything setup.sh and wisp read; .dockerignore keeps out node_modules, data, reports.
COPY . .
RUN --mount=type=cache,target=/root/.cache/wisp \
    --mount=type=cache,target=/root/.cache/ccache \
    --mount=type=cache,target=/root/.npm \
    bash infra/setup.sh \
 && rm -rf node_modules/mediasoup/worker/out/Release/build /var/lib/apt/lists/*

# Runs as the image's unprivileged "node" user (uid 1000, as in infra/k8s). State: DATA_DIR
# (the embedded store, the recorder's spool); mount a volume there.
RUN mkdir -p /data && chown node:node /data
USER node
ENV PORT=8080 DATA_DIR=/data

# HTTP, then WebRTC media: worker i listens on RTC_PORT + i (UDP and TCP), one worker per
# core by default (MEDIASOUP_WORKERS); the range below covers 8.
EXPOSE 8080/tcp 40000-40007/udp 40000-40007/tcp

# For docker run; Kubernetes ignores it and uses the probes in infra/k8s instead.
HEALTHCHECK --interval=10s --timeout=3s --start-period=60s \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]

ENTRYPOINT ["/usr/bin/tini", "--"]
CMD ["npm", "start"]

# Runtime Control's image: the server (`rctl up`) with the built console. Multi-stage: the build stage installs
# everything and compiles (TypeScript, the console, better-sqlite3's native addon), then drops the development
# dependencies; the runtime stage copies the result and runs as a non-root user on a read-only root filesystem.
# Built with `docker build -t runtime-control:0.1.0 .`; `rctl render control-plane --image …` deploys it.

FROM node:20-bookworm-slim AS build
WORKDIR /app
# python3/make/g++ build better-sqlite3 when no prebuilt binary matches.
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ && rm -rf /var/lib/apt/lists/*
COPY . .
# `npm ci` runs the root `prepare` script: tsc -b and the console's Vite build.
RUN npm ci --no-audit --no-fund \
 && npm prune --omit=dev --no-audit --no-fund \
 && rm -rf tools bench docs/benchmarks.md packages/*/src examples/*/src

FROM node:20-bookworm-slim
ENV NODE_ENV=production RC_MODE=production RC_DATA_DIR=/var/lib/runtime-control
WORKDIR /app
COPY --from=build --chown=root:root /app /app
# A fixed non-root user (matches the Deployment's runAsUser); it owns only its data directory.
RUN groupadd --system --gid 10001 rc && useradd --system --uid 10001 --gid rc --home /nonexistent rc \
 && mkdir -p /var/lib/runtime-control && chown rc:rc /var/lib/runtime-control
USER 10001:10001
EXPOSE 4400
ENTRYPOINT ["node", "/app/packages/cli/dist/bin.js"]
CMD ["up"]

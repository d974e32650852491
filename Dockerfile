# syntax=docker/dockerfile:1
# framestream: build with `docker build -t framestream .`; compose.yaml runs two instances behind a
# TLS proxy. Both stages compile native code (better-sqlite3, the TCP tuning addon in native/):
# python3, make and g++ are installed for that and removed from the final image again.

# ---- build: TypeScript to dist/, the web viewer to dist/public (dev dependencies needed)
FROM node:20-bookworm-slim AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
# node-gyp finds Node's headers in the image instead of downloading them.
ENV npm_config_nodedir=/usr/local
COPY package.json package-lock.json binding.gyp ./
COPY native ./native
RUN npm ci --no-audit --no-fund
COPY tsconfig.json ./
COPY src ./src
COPY web ./web
RUN npm run build

# ---- final: production dependencies and the built service, run as the unprivileged "node" user
FROM node:20-bookworm-slim
WORKDIR /app
ENV npm_config_nodedir=/usr/local NODE_ENV=production HOST=0.0.0.0 PORT=8000 DATA_DIR=/data
COPY package.json package-lock.json binding.gyp ./
COPY native ./native
RUN apt-get update && apt-get install -y --no-install-recommends python3 make g++ \
    && npm ci --omit=dev --no-audit --no-fund \
    && npm cache clean --force \
    && apt-get purge -y python3 make g++ && apt-get autoremove -y && rm -rf /var/lib/apt/lists/* \
    && mkdir -p /data && chown node:node /data
COPY --from=build /app/dist/src ./dist/src
COPY --from=build /app/dist/public ./dist/public
USER node
VOLUME /data
EXPOSE 8000
# Ready = the frame store and the accounts database answer (a load balancer's signal too).
HEALTHCHECK --interval=10s --timeout=3s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.PORT || 8000) + '/readyz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# The flags of `npm start` (see README, Deployment notes); SIGTERM shuts down gracefully.
CMD ["node", "--max-semi-space-size=2", "dist/src/main.js"]

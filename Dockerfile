# syntax=docker/dockerfile:1
# gradestream service image: Node 24 LTS, non-root, state and outbox under /var/lib/gradestream.

FROM node:24-bookworm-slim AS build
# better-sqlite3 compiles when no prebuilt binary matches the platform.
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 make g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY package.json package-lock.json ./
RUN npm ci --ignore-scripts && npm rebuild better-sqlite3
COPY tsconfig.json tsconfig.build.json ./
COPY src src
RUN npm run build && npm prune --omit=dev

FROM node:24-bookworm-slim
ENV NODE_ENV=production \
    GRADESTREAM_STATE_URL=sqlite:/var/lib/gradestream/gradestream.db \
    GRADESTREAM_SINK_URL=file:/var/lib/gradestream/outbox \
    GRADESTREAM_HTTP_PORT=8080
WORKDIR /app
COPY --from=build /app/node_modules node_modules
COPY --from=build /app/dist dist
COPY package.json ./
COPY bin bin
COPY schemas schemas
RUN mkdir -p /var/lib/gradestream && chown node:node /var/lib/gradestream
USER node
VOLUME ["/var/lib/gradestream"]
EXPOSE 8080
# The image has no curl: Node asks /healthz (Kubernetes uses the chart's probes instead).
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
  CMD ["node", "-e", "fetch('http://127.0.0.1:' + (process.env.GRADESTREAM_HTTP_PORT || 8080) + '/healthz').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
ENTRYPOINT ["node", "bin/gradestream.js"]
CMD ["run"]

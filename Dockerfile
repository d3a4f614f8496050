# callguard's image: `docker build -t callguard .`
# The same image runs the API (default CMD) and the scaled-out health workers
# (`node dist/app/health.js`); see docker-compose.yml.

# ---- build: compile TypeScript to dist/ (dev dependencies stay in this stage)
FROM node:20-bookworm-slim AS build
WORKDIR /app
# The client package is an npm workspace: npm ci needs its package.json.
COPY package.json package-lock.json ./
COPY packages/client/package.json packages/client/tsconfig.json ./packages/client/
# Install scripts stay off, as package.json's allowScripts says.
RUN npm ci --ignore-scripts --no-audit --no-fund
COPY tsconfig.json tsconfig.build.json ./
COPY scripts/build.mjs ./scripts/
COPY src ./src
RUN npm run build

# ---- production: production dependencies and the compiled code only
FROM node:20-bookworm-slim AS production
# A larger young generation: a fifth fewer pauses for the API's short-lived garbage, and a lower
# tail for each request (docs/performance.md); the same flag as `npm start`.
ENV NODE_ENV=production NODE_OPTIONS=--max-semi-space-size=32
WORKDIR /app
COPY package.json package-lock.json ./
COPY packages/client/package.json ./packages/client/
RUN npm ci --omit=dev --ignore-scripts --no-audit --no-fund && npm cache clean --force
COPY --from=build /app/dist ./dist
# node_modules/@callguard-dev/client links here (the server runs its own compiled copy in dist/).
COPY --from=build /app/packages/client/dist ./packages/client/dist
# The default rules file; mount your own over it (docker-compose.yml does).
COPY rules.json ./
# The files stay root-owned and read-only to the process: it needs no writes.
USER node
EXPOSE 3000
# No curl in the slim image; Node's fetch does the probe.
HEALTHCHECK --interval=10s --timeout=5s --start-period=30s --retries=3 \
  CMD ["node", "-e", "fetch(`http://127.0.0.1:${process.env.PORT || 3000}/readyz`).then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))"]
# Exec form, no npm and no shell: Node is PID 1 and receives SIGTERM itself; callguard handles
# SIGTERM/SIGINT (drain, exit 0) and starts no child processes, so nothing needs reaping.
CMD ["node", "dist/app/main.js"]

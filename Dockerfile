# One image for the code location, the webserver and the daemon (see docker-compose.yml).
# Node.js 20 (the V8 side: step profiling, workflow runner) comes from the official image, not from the
# distribution, whose nodejs may be older than wfprof supports.
FROM node:20-bookworm-slim AS node

FROM python:3.11-slim-bookworm
COPY --from=node /usr/local/bin/node /usr/local/bin/node
COPY --from=node /usr/local/lib/node_modules /usr/local/lib/node_modules
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
    && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx

WORKDIR /opt/wfprof
COPY requirements.lock pyproject.toml README.md ./
RUN pip install --no-cache-dir uv && uv pip install --system --no-cache -r requirements.lock
COPY wfprof_pipeline ./wfprof_pipeline
COPY data/steps ./data/steps
COPY data/workflows ./data/workflows
COPY dagster.yaml workspace.yaml ./
RUN uv pip install --system --no-cache --no-deps -e . \
    && cd wfprof_pipeline/node && npm ci --no-audit --no-fund \
    && cd /opt/wfprof/data/steps && npm ci --no-audit --no-fund

ENV DAGSTER_HOME=/opt/dagster_home
RUN mkdir -p $DAGSTER_HOME && cp dagster.yaml $DAGSTER_HOME/dagster.yaml

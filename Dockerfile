# One image for the code location, the webserver and the daemon (see docker-compose.yml).
FROM python:3.11-slim

# Node.js for the V8 side (step profiling, workflow runner).
RUN apt-get update \
    && apt-get install -y --no-install-recommends nodejs npm make \
    && rm -rf /var/lib/apt/lists/*

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

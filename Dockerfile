# syntax=docker/dockerfile:1
# Worker image of intercom-stream: `docker build -t intercom-stream .`
# Runs as uid 10001 with a read-only root filesystem in Kubernetes (see helm/intercom-stream):
# only /tmp (and INTERCOM_STREAM_DATA_DIR below it) must be writable.

ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: compile/install the package and its dependencies into a virtualenv ----
FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PIP_NO_CACHE_DIR=1 \
    PYTHONDONTWRITEBYTECODE=1
# Compilers only for dependencies without a wheel for this platform; they stay in this stage.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
RUN pip install --no-cache-dir --upgrade pip setuptools wheel
WORKDIR /src
# README.md is optional (pyproject's readme); the glob keeps the COPY valid without it.
COPY pyproject.toml README.md* ./
COPY streams ./streams
COPY schemas ./schemas
RUN pip install --no-cache-dir '.[rocksdb]' \
 && python -m compileall -q /opt/venv/lib \
 && intercom-stream --help >/dev/null

# ---- runtime: no compilers, no pip cache, non-root ----
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="intercom-stream" \
      org.opencontainers.image.description="Kafka stream processor delivering Segment events to Intercom" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /app /tmp/intercom-stream \
 && chown 10001:10001 /tmp/intercom-stream
COPY --from=build /opt/venv /opt/venv
# Avro schemas: the installed package does not carry <repo>/schemas, so point the worker at this copy.
COPY schemas /app/schemas
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INTERCOM_STREAM_SCHEMAS=/app/schemas \
    INTERCOM_STREAM_DATA_DIR=/tmp/intercom-stream \
    INTERCOM_STREAM_WEB_HOST=0.0.0.0 \
    INTERCOM_STREAM_WEB_PORT=6066
WORKDIR /app
USER 10001:10001
EXPOSE 6066
ENTRYPOINT ["intercom-stream"]
CMD ["worker"]

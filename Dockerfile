# syntax=docker/dockerfile:1
# Worker image of intercom-stream. `make image` builds it with buildah (see image/build.sh); any
# BuildKit-compatible builder works: `docker build -t intercom-stream .`
# Runs as uid 10001 with a read-only root filesystem in Kubernetes (see helm/intercom-stream):
# only /tmp (and INTERCOM_STREAM_DATA_DIR below it) must be writable.

# Any Debian-based image with python3 >= 3.11 and python3 -m venv: python:3.11-slim, or the
# debootstrap-made base of image/base.sh where no registry base image is reachable.
ARG PYTHON_IMAGE=python:3.11-slim

# ---- build: install the wheel and its dependencies into a virtualenv ----
FROM ${PYTHON_IMAGE} AS build
# Every dependency has a wheel for linux/amd64 (avro-python3 is pure Python); on platforms where one
# lacks a wheel, pass --build-arg BUILD_PACKAGES=build-essential. Compilers stay in this stage.
ARG BUILD_PACKAGES=""
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN if [ -n "$BUILD_PACKAGES" ]; then \
      apt-get update && apt-get install -y --no-install-recommends $BUILD_PACKAGES \
      && rm -rf /var/lib/apt/lists/*; \
    fi
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY streams ./streams
COPY schemas ./schemas
# The optional "ca" secret is a CA bundle for networks whose TLS the base image does not trust; it is
# used by pip in this step only and never stored in a layer. The pip cache mount speeds up rebuilds.
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
 && pip install -q --upgrade pip \
 && pip install -q '.[rocksdb]' \
 && python -m compileall -q /opt/venv/lib \
 && intercom-stream --version

# ---- runtime: no compilers, no pip cache, no sources, non-root ----
FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="intercom-stream" \
      org.opencontainers.image.description="Kafka stream processor delivering Segment events to Intercom" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /app /tmp/intercom-stream \
 && chown 10001:10001 /tmp/intercom-stream
COPY --from=build /opt/venv /opt/venv
# The package carries its Avro schemas, emulator specs and samples (package data): nothing else to copy.
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    INTERCOM_STREAM_DATA_DIR=/tmp/intercom-stream \
    INTERCOM_STREAM_WEB_HOST=0.0.0.0 \
    INTERCOM_STREAM_WEB_PORT=6066
WORKDIR /app
USER 10001:10001
EXPOSE 6066
ENTRYPOINT ["intercom-stream"]
CMD ["worker"]

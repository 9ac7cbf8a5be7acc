# syntax=docker/dockerfile:1
# The Intercom emulator on its own, for CI jobs in any language (a GitHub Actions `services:`
# container, docker compose, podman). `make image` builds it beside the worker's image
# (image/build.sh); any BuildKit-compatible builder works:
#   docker build -f image/emulator.Dockerfile -t intercom-stream-emulator .
# Listens on 0.0.0.0:8089; admin API under /_emulator (streams/emulator/README.md).
ARG PYTHON_IMAGE=python:3.11-slim

FROM ${PYTHON_IMAGE} AS build
ENV PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PYTHONDONTWRITEBYTECODE=1
RUN python3 -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
WORKDIR /src
COPY pyproject.toml setup.py README.md ./
COPY streams ./streams
COPY schemas ./schemas
# No rocksdb extra: the emulator needs none of the worker's state store.
RUN --mount=type=secret,id=ca --mount=type=cache,target=/root/.cache/pip \
    if [ -s /run/secrets/ca ]; then export PIP_CERT=/run/secrets/ca; fi \
 && pip install -q --upgrade pip \
 && pip install -q . \
 && python -m compileall -q /opt/venv/lib \
 && python -m streams.emulator --help >/dev/null

FROM ${PYTHON_IMAGE} AS runtime
LABEL org.opencontainers.image.title="intercom-stream-emulator" \
      org.opencontainers.image.description="Stateful emulator of Intercom's REST API (2.10, 2.16) for tests" \
      org.opencontainers.image.licenses="Apache-2.0"
RUN groupadd --system --gid 10001 app \
 && useradd --system --uid 10001 --gid 10001 --home-dir /app --no-create-home --shell /usr/sbin/nologin app \
 && mkdir -p /app
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /app
USER 10001:10001
EXPOSE 8089
HEALTHCHECK --interval=2s --timeout=2s --retries=15 \
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8089/_emulator/config', timeout=1)"]
# Arguments after the image name replace CMD: e.g. `--token my-token --latency 80-250ms --state /state.json`
# (then give --host 0.0.0.0 too).
ENTRYPOINT ["python", "-m", "streams.emulator"]
CMD ["--host", "0.0.0.0", "--port", "8089", "--token", "test-token"]

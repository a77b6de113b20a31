# syntax=docker/dockerfile:1
# VitalStream images. Two targets from one file; they differ only in the extra they install:
#
#   docker build --target edge      -t vitalstream-edge .        # pip install .[edge]: no River, no InfluxDB client
#   docker build --target processor -t vitalstream-processor .   # pip install .[processor]
#
# Both run `vitalstream` as an unprivileged user and take all settings from VITALSTREAM_* variables
# (or a TOML file named by VITALSTREAM_CONFIG) at run time: nothing secret is baked into an image.

# Pinned to a patch release so a rebuild does not silently change the interpreter; bump deliberately.
ARG PYTHON_IMAGE=python:3.11.14-slim-bookworm

# ---------------------------------------------------------------- base: what both runtime images share
FROM ${PYTHON_IMAGE} AS base
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PATH=/opt/venv/bin:$PATH
RUN groupadd --system --gid 10001 vitalstream \
 && useradd --system --uid 10001 --gid vitalstream --no-create-home --home-dir /nonexistent \
      --shell /usr/sbin/nologin vitalstream
# An empty working directory: `load_settings` reads ./vitalstream.toml when one exists, so the image
# must not pick up a stray file from wherever it was started.
WORKDIR /app

# ---------------------------------------------------------------- source: the packages, in a fresh venv
FROM base AS source
RUN python -m venv /opt/venv
WORKDIR /src
COPY pyproject.toml README.md ./
COPY vitalstream/ vitalstream/
COPY edge_agent/ edge_agent/
COPY stream_processor/ stream_processor/
COPY alerts/ alerts/
COPY vitalstream_app/ vitalstream_app/
# The ONNX models and their manifest ship as the vitalstream_models package (the training scripts beside them are not installed).
COPY models/ models/

# Build stages install into /opt/venv; the runtime stages copy only that venv, so the source tree,
# build directories and pip's build requirements stay behind.
FROM source AS build-edge
RUN pip install ".[edge]"

FROM source AS build-processor
RUN pip install ".[processor]"

# ---------------------------------------------------------------- edge agent
FROM base AS edge
COPY --from=build-edge /opt/venv /opt/venv
USER vitalstream
ENTRYPOINT ["vitalstream"]
CMD ["edge"]

# ---------------------------------------------------------------- stream processor (the default target)
FROM base AS processor
# Local state (write spool, checkpoints) lives here; compose mounts a named volume on it. Created
# and owned by the runtime user so that a fresh named volume inherits a writable directory.
RUN install -d -o vitalstream -g vitalstream -m 0750 /var/lib/vitalstream
ENV VITALSTREAM_PROCESSOR_STATE_DIR=/var/lib/vitalstream
COPY --from=build-processor /opt/venv /opt/venv
USER vitalstream
ENTRYPOINT ["vitalstream"]
CMD ["process"]

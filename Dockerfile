# syntax=docker/dockerfile:1
# The pipeline image: `tfxgan` for the in-cluster pipeline Job (BeamDagRunner),
# the Kubeflow Pipelines v2 components (`tfxgan compile --image` names it) and
# TensorBoard. Build from the repository root (see docs/DEPLOY.md):
#   docker build -t tfx-gan-pipeline:0.1.0 .
#
# Python 3.10 (TFX 1.16 needs < 3.11) on Debian bookworm, whose glibc (2.36)
# is the one the lock files were resolved and tested on. Exact patch version;
# pin the digest too when you mirror the image (docs/DEPLOY.md).
ARG PYTHON_IMAGE=python:3.10.13-slim-bookworm

# ---------------------------------------------------------------- build stage
FROM ${PYTHON_IMAGE} AS build
# crcmod and pyfarmhash (in the lock) publish no wheels: they compile here.
RUN apt-get update \
 && apt-get install -y --no-install-recommends build-essential \
 && rm -rf /var/lib/apt/lists/*
# Same uv as scripts/quickstart.sh (a test keeps them equal).
ARG UV_VERSION=0.13.9
RUN pip install --no-cache-dir "uv==${UV_VERSION}"
# Byte-compile at install time: the containers run with a read-only root file system.
ENV UV_COMPILE_BYTECODE=1 UV_LINK_MODE=copy
RUN python -m venv /opt/venv
# The exact pinned runtime set first (its layer is reused while only the code
# changes): the runtime lock, not the dev/test lock (no pytest, kubectl, moto), and
# without the notebook stack tensorflow-model-analysis asks for (runtime-excludes.txt).
COPY requirements/lock-runtime-py310-linux.txt requirements/runtime-excludes.txt /tmp/
RUN uv pip install --python /opt/venv/bin/python --no-cache \
      --excludes /tmp/runtime-excludes.txt -r /tmp/lock-runtime-py310-linux.txt
# ... then the project itself, without touching the pinned dependencies.
COPY setup.py README.md /src/
COPY trainer /src/trainer
COPY tfx_pipeline /src/tfx_pipeline
COPY serving /src/serving
RUN uv pip install --python /opt/venv/bin/python --no-cache --no-deps /src

# -------------------------------------------------------------- runtime stage
FROM ${PYTHON_IMAGE}
COPY --from=build /opt/venv /opt/venv
# A numeric, non-root user (Kubernetes' runAsNonRoot can only verify numbers);
# the manifests run as the same uid. HOME is /tmp, the pods' writable emptyDir.
RUN groupadd --gid 10001 tfxgan \
 && useradd --uid 10001 --gid 10001 --home-dir /tmp --no-create-home \
      --shell /usr/sbin/nologin tfxgan
ENV PATH=/opt/venv/bin:$PATH \
    HOME=/tmp \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
WORKDIR /tmp
USER 10001:10001
ENTRYPOINT ["tfxgan"]
CMD ["--help"]

# eventlake's image: one entry point (`eventlake`), the role as its command.
#
#   docker build -t eventlake .
#   docker run --read-only -p 127.0.0.1:8000:8000 eventlake               # serve (the API)
#   docker run --read-only eventlake consume                              # stream -> lake
#   docker run --read-only -p 127.0.0.1:8501:8501 eventlake dashboard --host 0.0.0.0
#   docker run --read-only eventlake transform                            # dbt
#   docker run --read-only eventlake quality                              # Great Expectations
#
# State (the lake, the stream, the job database, the API key) lives under EVENTLAKE_HOME, a
# volume; the root filesystem can be read-only. Behind a TLS-intercepting proxy, pass its CA
# bundle as a secret: `--secret id=cacert,src=/etc/ssl/certs/ca-certificates.crt`
# (deploy/docker/build.sh does, after starting a Docker engine here when none runs).
#
# BuildKit runs the stages at once where it can: `extension-source` compiles the Rust core
# (the long part of a cold build: ~15 min on 2 cores) while `builder` installs the
# dependencies.
#
# The extension's wheel comes from the `extension-source` stage by default. A machine that
# has just built the same sources (make test, after make setup) can hand its wheel in instead
# (--build-arg EXTENSION=extension-prebuilt, with the wheel in target/image-wheels/):
# deploy/docker/build.sh --prebuilt-extension does both, and the Rust stage is skipped.
ARG EXTENSION=extension-source

# --- extension-source: the Rust core's wheel (maturin, the dist profile: thin LTO) ---------
FROM python:3.11-slim-bookworm AS extension-source
SHELL ["/bin/bash", "-o", "pipefail", "-c"]

# Rust from Debian (rustc-web tracks a recent stable; the workspace needs >= 1.88). It brings
# gcc as its linker: this stage only, the runtime has no compiler.
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends rustc-web cargo-web \
    && rm -rf /var/lib/apt/lists/*

COPY deploy/docker/with-ca.sh /usr/local/bin/with-ca
# maturin pinned as in uv.lock.
RUN --mount=type=secret,id=cacert --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/build \
    && with-ca /opt/build/bin/pip install --disable-pip-version-check maturin==1.16.0

WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY crates crates
# The core embeds the default events contract (include_str!).
COPY src/eventlake/resources/contracts src/eventlake/resources/contracts
# cargo's registry and target folder are cache mounts: a rebuild compiles only what changed.
RUN --mount=type=secret,id=cacert \
    --mount=type=cache,target=/root/.cargo/registry \
    --mount=type=cache,target=/src/target \
    with-ca /opt/build/bin/maturin build --profile dist --locked --interpreter python3 \
        --manifest-path crates/data_processor_rs/Cargo.toml --out /wheels

# --- extension-prebuilt: a wheel built outside, from the same sources --------------------
FROM scratch AS extension-prebuilt
COPY target/image-wheels/ /wheels/

# The stage the builder takes the wheel from (BuildKit builds only the one chosen).
FROM ${EXTENSION} AS extension

# --- uv: the Python build tool (pinned as in the Makefile) -------------------------------
FROM python:3.11-slim-bookworm AS uv
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
COPY deploy/docker/with-ca.sh /usr/local/bin/with-ca
RUN --mount=type=secret,id=cacert --mount=type=cache,target=/root/.cache/pip \
    python3 -m venv /opt/build \
    && with-ca /opt/build/bin/pip install --disable-pip-version-check uv==0.13.8
ENV PATH=/opt/build/bin:$PATH \
    UV_LINK_MODE=copy \
    UV_COMPILE_BYTECODE=1 \
    UV_PYTHON_DOWNLOADS=never
WORKDIR /src

# --- requirements: the runtime's dependencies exactly as locked, every extra (eventlake[all])
# A stage of its own: the builder copies the file, and COPY's cache goes by content, so an
# edit of pyproject.toml that changes no runtime pin (the dev group) installs nothing again.
FROM uv AS requirements
COPY pyproject.toml uv.lock ./
COPY crates/data_processor_rs/pyproject.toml crates/data_processor_rs/
RUN uv export --frozen --no-dev --no-emit-workspace --all-extras --format requirements-txt \
        > /requirements.txt

# --- builder: the dependencies (hashes checked) in /opt/venv ------------------------------
# The export is the lock's whole resolution (pathspec's override included), so it is
# installed as is, --no-deps. Bytecode is compiled here: the runtime's root is read-only.
FROM uv AS builder
COPY --from=requirements /requirements.txt /tmp/requirements.txt
RUN --mount=type=secret,id=cacert --mount=type=cache,target=/root/.cache/uv \
    python3 -m venv --without-pip /opt/venv \
    && with-ca uv pip install --python /opt/venv/bin/python --require-hashes --no-deps \
        -r /tmp/requirements.txt

# --- package: eventlake's own wheel (hatchling) ------------------------------------------
FROM uv AS package
COPY pyproject.toml README.md ./
COPY src src
RUN --mount=type=secret,id=cacert --mount=type=cache,target=/root/.cache/uv \
    with-ca uv build --wheel --out-dir /wheels

# --- runtime: Python, the venv, a non-root user; no compiler, no build tool --------------
FROM python:3.11-slim-bookworm

ENV EVENTLAKE_HOME=/var/lib/eventlake
# HOME on the volume too: Streamlit, dbt and matplotlib keep their dotfiles under it.
ENV HOME=$EVENTLAKE_HOME \
    PATH=/opt/venv/bin:$PATH \
    PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1

RUN useradd --system --uid 10001 --user-group --home-dir "$EVENTLAKE_HOME" --no-create-home \
        --shell /usr/sbin/nologin eventlake \
    && install -d -o 10001 -g 10001 -m 0750 "$EVENTLAKE_HOME"

COPY --from=builder /opt/venv /opt/venv
# The extension and the package last, in a small layer of their own: a code change leaves
# the dependencies' layer as it is. uv is borrowed from its stage, never part of the image.
RUN --mount=type=bind,from=extension,source=/wheels,target=/wheels/extension \
    --mount=type=bind,from=package,source=/wheels,target=/wheels/package \
    --mount=type=bind,from=uv,source=/opt/build,target=/opt/build \
    /opt/build/bin/uv pip install --python /opt/venv/bin/python --no-deps --no-cache \
        --compile-bytecode /wheels/extension/*.whl /wheels/package/*.whl
COPY deploy/docker/healthcheck.py /opt/eventlake/healthcheck.py

USER 10001:10001
# The working folder is writable too: with a read-only root and no tmpfs on /tmp, Python's
# tempfile falls back to it.
WORKDIR $EVENTLAKE_HOME
VOLUME ["/var/lib/eventlake"]
EXPOSE 8000 8501

# serve: the API's /api/v1/health; dashboard: Streamlit's; the other roles: alive
# (deploy/docker/healthcheck.py reads the role from the container's command).
HEALTHCHECK --interval=10s --timeout=5s --start-period=60s --retries=3 \
    CMD ["/opt/venv/bin/python", "/opt/eventlake/healthcheck.py"]

ENTRYPOINT ["eventlake"]
# In a container the API listens on every interface; publish it on 127.0.0.1 (-p) as needed.
CMD ["serve", "--host", "0.0.0.0"]

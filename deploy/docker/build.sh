#!/usr/bin/env bash
# Build the image from the root Dockerfile on this machine: a Docker engine first
# (engine.sh: installs and starts it, makes the base image when it cannot be pulled), then
# `docker build` with BuildKit, passing the host's CA bundle as the `cacert` secret when the
# host has one (HTTPS here goes through a proxy that bundle trusts).
#
#   deploy/docker/build.sh [--prebuilt-extension] [TAG] [docker build args...]
#
# TAG defaults to eventlake:latest. --prebuilt-extension: the Rust extension's wheel is built
# here, by .venv's maturin from the same sources and cargo's target/ (seconds after
# make setup: nothing to compile), and handed to the build instead of compiling the core
# again inside it (~15 min cold on 2 cores); the image is otherwise the same.
#
# Prints the tag, build time and size last. Exit 77: no engine can run here (engine.sh's
# reason on stderr).
set -euo pipefail

cd "$(dirname "$0")/../.."
prebuilt=false
if [ "${1:-}" = --prebuilt-extension ]; then
    prebuilt=true
    shift
fi
tag=${1:-eventlake:latest}
shift || true

deploy/docker/engine.sh

# One build at a time (make image, the container tests, the compose stack may start at once):
# they share target/image-wheels, and two builds on the same cores only slow each other down.
mkdir -p target
exec 9>target/.image-build.lock
flock 9

docker=/usr/bin/docker
[ -x "$docker" ] || docker=docker
args=()
ca=${EVENTLAKE_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca" ] && args+=(--secret "id=cacert,src=$ca")

if $prebuilt; then
    # The Dockerfile's extension-prebuilt stage copies this folder (.dockerignore lets it in).
    wheels=target/image-wheels
    rm -rf "$wheels"
    # A fixed timestamp in the wheel: the same sources give the same bytes, so the image's
    # layer with the extension is reused rather than rebuilt.
    SOURCE_DATE_EPOCH=315532800 "${MATURIN:-.venv/bin/maturin}" build --release --locked --quiet \
        --manifest-path crates/data_processor_rs/Cargo.toml --out "$wheels"
    args+=(--build-arg EXTENSION=extension-prebuilt)
fi

start=$(date +%s)
DOCKER_BUILDKIT=1 "$docker" build --progress=plain "${args[@]}" -t "$tag" "$@" .
size=$("$docker" image inspect --format '{{.Size}}' "$tag")
echo "built $tag in $(($(date +%s) - start)) s: $((size / 1000000)) MB"

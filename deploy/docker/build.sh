#!/usr/bin/env bash
# Build the image from the root Dockerfile on this machine: a Docker engine first
# (engine.sh: installs and starts it, makes the base image when it cannot be pulled), then
# `docker build` with BuildKit, passing the host's CA bundle as the `cacert` secret when the
# host has one (HTTPS here goes through a proxy that bundle trusts).
#
#   deploy/docker/build.sh [TAG]        (default eventlake:latest; extra args go to docker build)
#
# Prints the tag and the image's size last. Exit 77: no engine can run here (engine.sh's
# reason on stderr).
set -euo pipefail

cd "$(dirname "$0")/../.."
tag=${1:-eventlake:latest}
shift || true

deploy/docker/engine.sh

docker=/usr/bin/docker
[ -x "$docker" ] || docker=docker
secret=()
ca=${EVENTLAKE_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca" ] && secret=(--secret "id=cacert,src=$ca")

start=$(date +%s)
DOCKER_BUILDKIT=1 "$docker" build --progress=plain "${secret[@]}" -t "$tag" "$@" .
size=$("$docker" image inspect --format '{{.Size}}' "$tag")
echo "built $tag in $(($(date +%s) - start)) s: $((size / 1000000)) MB"

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

# The RECORD of the wheels in folder $1 (file names and hashes), empty when there is none;
# without the SBOM, which maturin stamps with the time of each build.
wheel_record() {
    python3 - "$1" <<'PY'
import pathlib, sys, zipfile
for wheel in sorted(pathlib.Path(sys.argv[1]).glob("*.whl")):
    with zipfile.ZipFile(wheel) as archive:
        print(wheel.name)
        for name in archive.namelist():
            if name.endswith(".dist-info/RECORD"):
                lines = archive.read(name).decode().splitlines()
                print(*(line for line in lines if "/sboms/" not in line), sep="\n")
PY
}
args=()
ca=${EVENTLAKE_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
[ -s "$ca" ] && args+=(--secret "id=cacert,src=$ca")

if $prebuilt; then
    # The Dockerfile's extension-prebuilt stage copies this folder (.dockerignore lets it in).
    wheels=target/image-wheels
    fresh=$(mktemp -d target/image-wheels.XXXXXX)
    # The same environment as make setup's build (no SOURCE_DATE_EPOCH, say: cargo would
    # re-link the core for minutes), so cargo finds target/ fresh and maturin only packages it.
    # One maturin at a time (tests/package/test_wheel.py takes the same lock): cargo locks
    # target/ while it builds, but maturin then rewrites target/maturin/ outside that lock,
    # and a second build reading it meanwhile finds no library.
    flock target/maturin.lock "${MATURIN:-.venv/bin/maturin}" build --release --locked --quiet \
        --manifest-path crates/data_processor_rs/Cargo.toml --out "$fresh"
    # A wheel whose files are those of the one already there (its RECORD lists every file's
    # hash; only the zip's timestamps differ) is not replaced: the image's layer with the
    # extension is then reused rather than rebuilt.
    if [ "$(wheel_record "$wheels")" = "$(wheel_record "$fresh")" ]; then
        rm -rf "$fresh"
    else
        rm -rf "$wheels"
        mv "$fresh" "$wheels"
    fi
    args+=(--build-arg EXTENSION=extension-prebuilt)
fi

start=$(date +%s)
DOCKER_BUILDKIT=1 "$docker" build --progress=plain "${args[@]}" -t "$tag" "$@" .
size=$("$docker" image inspect --format '{{.Size}}' "$tag")
echo "built $tag in $(($(date +%s) - start)) s: $((size / 1000000)) MB"

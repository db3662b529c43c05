#!/usr/bin/env bash
# The images compose.yaml runs, on this machine (idempotent):
#
#   deploy/compose/images.sh
#
# 1. a Docker engine and the base image (deploy/docker/engine.sh);
# 2. eventlake's image from the root Dockerfile (deploy/docker/build.sh --prebuilt-extension:
#    the host's release build of the Rust core, no 15-min compile in Docker), tagged
#    $EVENTLAKE_IMAGE (default eventlake:latest);
# 3. PostgreSQL and moto under the names compose.yaml gives them, pulled as a user with network
#    access would, or, when the pull fails (Docker Hub cannot be reached here), built locally
#    from stand-ins/ on the local base image and tagged with those names, so compose.yaml stays
#    the ordinary one.
#
# Exit 77: no engine can run here (engine.sh's reason on stderr).
set -euo pipefail

cd "$(dirname "$0")/../.."
docker=/usr/bin/docker
[ -x "$docker" ] || docker=docker

# image name in compose.yaml -> its stand-in folder
declare -A STAND_INS=(
    [postgres:15-bookworm]=postgres
    [motoserver/moto:5.2.5]=moto
)

deploy/docker/engine.sh
if [ "${EVENTLAKE_SKIP_IMAGE_BUILD:-}" != 1 ]; then
    deploy/docker/build.sh --prebuilt-extension "${EVENTLAKE_IMAGE:-eventlake:latest}"
fi

ca=${EVENTLAKE_BUILD_CA:-/etc/ssl/certs/ca-certificates.crt}
for image in "${!STAND_INS[@]}"; do
    "$docker" image inspect "$image" >/dev/null 2>&1 && continue
    if timeout 120 "$docker" pull -q "$image" >/dev/null 2>&1; then
        echo "images.sh: pulled $image"
        continue
    fi
    echo "images.sh: cannot pull $image: building a local stand-in (deploy/compose/stand-ins/${STAND_INS[$image]})"
    args=()
    [ -s "$ca" ] && args+=(--secret "id=cacert,src=$ca")
    DOCKER_BUILDKIT=1 "$docker" build --quiet "${args[@]}" -t "$image" \
        "deploy/compose/stand-ins/${STAND_INS[$image]}" >/dev/null
done

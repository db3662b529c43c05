#!/usr/bin/env bash
# A Docker engine for the image and its tests, on this machine (idempotent).
#
#   deploy/docker/engine.sh [BASE_IMAGE...]
#
# 1. docker.io and mmdebstrap from Debian when missing (as root, through apt-get);
# 2. dockerd started in the background when no engine answers (data under /var/lib/docker,
#    which outlives this script and the session);
# 3. each BASE_IMAGE (default: the FROM images of the root Dockerfile) present: pulled, or,
#    when the registry cannot be reached (Docker Hub is not, here), made locally from
#    Debian's packages with mmdebstrap + docker import and tagged with the name the
#    Dockerfile uses, so the Dockerfile stays the one a user with network access builds.
#
# Exit 0: the engine answers and the base images exist. Exit 77 (automake's "skipped"):
# no engine can run here (not root, no apt-get, no dockerd); the one-line reason is on
# stderr, for the tests to report "container tests did not run: <why>". Other codes: a
# real failure (the log says which step).
set -euo pipefail

cd "$(dirname "$0")/../.."
CANNOT_RUN=77
DATA_ROOT=${EVENTLAKE_DOCKER_DATA_ROOT:-/var/lib/docker}
DOCKERD_LOG=${EVENTLAKE_DOCKERD_LOG:-/var/log/eventlake-dockerd.log}
PIDFILE=/run/eventlake-dockerd.pid

cannot_run() {
    echo "engine.sh: $*" >&2
    exit "$CANNOT_RUN"
}

is_root() { [ "$(id -u)" = 0 ]; }

# Debian's client: it has BuildKit (secrets, RUN --mount); a bare client elsewhere on PATH
# may not.
docker_client() {
    if [ -x /usr/bin/docker ]; then echo /usr/bin/docker; else command -v docker || true; fi
}

engine_answers() {
    local client
    client=$(docker_client)
    [ -n "$client" ] && "$client" info >/dev/null 2>&1
}

apt_install() {
    # Another apt-get (make test's system-packages) may hold dpkg's lock: wait for it.
    local apt=(apt-get -o DPkg::Lock::Timeout=600 -y -q)
    echo "engine.sh: installing from Debian: $*"
    DEBIAN_FRONTEND=noninteractive "${apt[@]}" install --no-install-recommends "$@" \
        || { "${apt[@]}" update && DEBIAN_FRONTEND=noninteractive "${apt[@]}" install \
            --no-install-recommends "$@"; }
}

ensure_packages() {
    local missing=()
    command -v dockerd >/dev/null || missing+=(docker.io)
    [ -x /usr/bin/docker ] || missing+=(docker.io)
    command -v mmdebstrap >/dev/null || missing+=(mmdebstrap)
    [ ${#missing[@]} = 0 ] && return 0
    is_root || cannot_run "not root and ${missing[*]} missing (sudo apt-get install ${missing[*]})"
    command -v apt-get >/dev/null || cannot_run "no apt-get to install ${missing[*]}"
    # shellcheck disable=SC2046 # one word per package, duplicates removed
    apt_install $(printf '%s\n' "${missing[@]}" | sort -u) \
        || cannot_run "apt-get could not install ${missing[*]}"
}

start_engine() {
    engine_answers && return 0
    is_root || cannot_run "no Docker engine answers and dockerd needs root"
    command -v dockerd >/dev/null || cannot_run "no dockerd"
    mkdir -p "$DATA_ROOT" "$(dirname "$DOCKERD_LOG")"
    echo "engine.sh: starting dockerd (data root $DATA_ROOT, log $DOCKERD_LOG)"
    # setsid + nohup: the engine outlives this script, make and the test that started it.
    setsid nohup dockerd --data-root "$DATA_ROOT" --pidfile "$PIDFILE" \
        >>"$DOCKERD_LOG" 2>&1 </dev/null &
    for _ in $(seq 60); do
        engine_answers && return 0
        sleep 1
    done
    tail -n 20 "$DOCKERD_LOG" >&2
    cannot_run "dockerd started but docker info did not answer within 60 s (log: $DOCKERD_LOG)"
}

# python:3.11-slim-bookworm -> Debian bookworm with Debian's python3 (3.11), the same
# interpreter line as the official image; another python tag has no local equivalent.
debian_suite_of() {
    case "$1" in
        python:3.11*bookworm*) echo bookworm ;;
        *) return 1 ;;
    esac
}

ensure_base_image() {
    local image=$1 client suite rootfs
    client=$(docker_client)
    "$client" image inspect "$image" >/dev/null 2>&1 && return 0
    if timeout 120 "$client" pull -q "$image" >/dev/null 2>&1; then
        echo "engine.sh: pulled $image"
        return 0
    fi
    suite=$(debian_suite_of "$image") \
        || { echo "engine.sh: cannot pull $image and no local recipe for it" >&2; return 1; }
    echo "engine.sh: cannot pull $image: building it locally from Debian $suite (mmdebstrap --variant=minbase + docker import)"
    rootfs=$(mktemp -d)/rootfs.tar
    # The official image's apt sources (updates and security too), so the builder stage
    # installs the same package versions on either base.
    mmdebstrap --quiet --variant=minbase \
        --include=python3,python3-venv,ca-certificates \
        "$suite" "$rootfs" \
        "deb http://deb.debian.org/debian $suite main" \
        "deb http://deb.debian.org/debian $suite-updates main" \
        "deb http://deb.debian.org/debian-security $suite-security main"
    # The official image's python3 is on PATH as python3 and python; LANG as it sets it.
    "$client" import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["python3"]' \
        "$rootfs" "$image" >/dev/null
    rm -rf "$(dirname "$rootfs")"
}

base_images() {
    if [ $# -gt 0 ]; then
        printf '%s\n' "$@"
    else
        # FROM <image> [AS name], leaving out the Dockerfile's own stages, scratch and a
        # stage picked by a build argument (FROM ${ARG}).
        awk 'toupper($1) == "FROM" && $2 != "scratch" && $2 !~ /\$/ { print $2 }' Dockerfile \
            | sort -u \
            | grep -vxF -f <(awk 'toupper($1) == "FROM" && toupper($3) == "AS" { print $4 }' Dockerfile) \
            || true
    fi
}

# An engine that already answers (a developer's Docker Desktop, a user in the docker group)
# needs neither root nor packages; mmdebstrap only when a base image must be made.
if ! engine_answers; then
    ensure_packages
    start_engine
fi
for image in $(base_images "$@"); do
    if ! "$(docker_client)" image inspect "$image" >/dev/null 2>&1; then
        command -v mmdebstrap >/dev/null || ensure_packages
    fi
    ensure_base_image "$image"
done

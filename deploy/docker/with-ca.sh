#!/bin/sh
# with-ca COMMAND...: run COMMAND trusting the CA bundle passed as the BuildKit secret
# `cacert` (docker build --secret id=cacert,src=...), for builds behind a TLS-intercepting
# proxy. Without the secret (an ordinary build with network access) it changes nothing.
# Used in the Dockerfile's builder stage only: the bundle never lands in a layer.
set -eu
ca=/run/secrets/cacert
if [ -s "$ca" ]; then
    export PIP_CERT="$ca" SSL_CERT_FILE="$ca" CARGO_HTTP_CAINFO="$ca"
fi
exec "$@"

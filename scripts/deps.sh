#!/bin/sh
# Installs the Debian packages that building and testing Strand need, when
# any is missing, and the end-to-end tests' npm packages. Idempotent: a
# machine that has everything is left alone.
set -eu

packages="build-essential pkg-config clang libsqlite3-dev check libsubunit-dev
librdkafka-dev libjansson-dev libavro-dev libcurl4-openssl-dev zlib1g-dev libsnappy-dev liblz4-dev libzstd-dev kcat python3 python3-confluent-kafka python3-kafka
python3-requests python3-yaml python3-jsonschema libmicrohttpd-dev wrk nodejs npm"

missing=""
for p in $packages; do
    if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
        missing="$missing $p"
    fi
done
# nodejs from another source provides node and npm without the Debian packages.
if command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1; then
    missing=$(echo "$missing" | tr ' ' '\n' | grep -vx -e nodejs -e npm | tr '\n' ' ')
fi
missing=$(echo "$missing" | xargs)

if [ -n "$missing" ]; then
    echo "deps: installing $missing"
    sudo=""
    [ "$(id -u)" -eq 0 ] || sudo="sudo"
    export DEBIAN_FRONTEND=noninteractive
    $sudo apt-get update -qq
    # shellcheck disable=SC2086
    $sudo apt-get install -y -qq $missing
fi

# Every package tests/e2e/package.json names must be there; one missing
# (a package added since the last `npm ci`) reinstalls them all.
npm_missing=""
if [ -f tests/e2e/package.json ]; then
    for p in kafkajs @confluentinc/schemaregistry; do
        [ -d "tests/e2e/node_modules/$p" ] || npm_missing="$npm_missing $p"
    done
fi
if [ "${1:-}" = "--tests" ] && [ -n "$npm_missing" ]; then
    echo "deps: installing the end-to-end tests' npm packages"
    (cd tests/e2e && npm ci --no-audit --no-fund --loglevel=error)
fi
exit 0

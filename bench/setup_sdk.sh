#!/usr/bin/env bash
# Installs CAMB's official Python SDK (camb-sdk, pinned) into a venv of its own under
# cargo's target directory, for bench/sdk_statuses.py; nothing goes into the system
# Python. Idempotent: an existing venv with the pinned version is left as it is.
#
#   usage: bench/setup_sdk.sh        prints the venv's python on its last line
#
# The version is the one camb-api.md was read from. Only camb-sdk is pinned: pip picks
# its dependencies (httpx, pydantic, ...), and the script lists the versions it got,
# since the figures depend on httpx's.
set -euo pipefail
cd "$(dirname "$0")/.."
SDK_VERSION=1.6.6
if [ $# -ne 0 ]; then
    echo "usage: $0" >&2
    exit 2
fi
# Where cargo builds (./target unless CARGO_TARGET_DIR or build.target-dir says otherwise).
# shellcheck source=scripts/lib/target-dir.sh
. scripts/lib/target-dir.sh
venv=$TARGET_DIR/sdk-venv
python=$venv/bin/python

if ! "$python" -c 'import sys; sys.exit(0)' 2>/dev/null; then
    rm -rf "$venv"
    timeout 120 python3 -m venv "$venv"
fi
installed=$("$python" -m pip show camb-sdk 2>/dev/null | sed -n 's/^Version: //p' || true)
if [ "$installed" != "$SDK_VERSION" ]; then
    timeout 600 "$python" -m pip install --quiet --disable-pip-version-check \
        "camb-sdk==$SDK_VERSION"
fi
# Imported as the benchmark does, so a broken install fails here rather than in the bench.
"$python" -c 'from camb import AsyncCambAI' >/dev/null
"$python" -m pip list --disable-pip-version-check 2>/dev/null |
    awk '$1 ~ /^(camb-sdk|httpx|httpcore|pydantic|pydantic_core|anyio|h11)$/ { print "  " $1 " " $2 }'
echo "$python"

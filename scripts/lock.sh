#!/usr/bin/env bash
# Regenerate requirements-lock.txt, the exact versions (with hashes) that the README's two
# commands, CI, the Pages workflow and the GPU check install:
#
#   bash scripts/lock.sh               # newest releases that requirements.txt allows, today
#   LOCK_DATE=2026-12-06 bash scripts/lock.sh   # only releases published before that day
#
# It resolves requirements.txt with uv's `pip compile` (uv 0.13, installed into
# .venv-lock on first use) for every platform and every Python the course supports
# (--universal, Python 3.10 and newer), bounded by scripts/lock-constraints.txt, and keeps
# only releases published before LOCK_DATE (default: tomorrow, UTC), so that the same date
# gives the same lock on any day. After a refresh, run the canary's comparison
# (LOCK=latest bash scripts/test.sh) or the whole suite, and update the numbers of the tests
# marked `pinned` from what they print.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
date="${LOCK_DATE:-$(date -u -d tomorrow +%Y-%m-%d)}"
uv="uv"
if ! command -v uv >/dev/null 2>&1; then
    if [ ! -x .venv-lock/bin/uv ]; then
        "${PYTHON:-python3}" -m venv .venv-lock
        .venv-lock/bin/python -m pip install -q "uv==0.13.*"
    fi
    uv=.venv-lock/bin/uv
fi
"$uv" pip compile requirements.txt \
    --universal --python-version 3.10 \
    --constraint scripts/lock-constraints.txt \
    --generate-hashes --exclude-newer "$date" \
    --custom-compile-command "LOCK_DATE=$date bash scripts/lock.sh" \
    --quiet --output-file requirements-lock.txt
echo "lock.sh: requirements-lock.txt resolved from requirements.txt (releases before $date)"

#!/usr/bin/env bash
# Run every test: the library's unit tests, the paired-notebook check, the graded
# assignments and the strict book build (which executes every chapter). Arguments go to pytest:
#
#   bash scripts/test.sh                   # everything
#   bash scripts/test.sh -m "not slow"     # skip chapter execution and the book build
#   bash scripts/test.sh tests/test_notebooks_paired.py
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

# Tests run the quick profile: CPU-only, offline, minutes on two cores.
export COLLAPSE_PROFILE=quick
# Every claim a chapter makes about its own run must hold in the tests (collapse_lib.claims).
export COLLAPSE_STRICT_CLAIMS=1

status=0
python -m pytest "$@" || status=$?
if [ "$status" -eq 5 ]; then
    echo "test.sh: pytest collected no tests; that is a failure" >&2
    exit 1
fi
exit "$status"

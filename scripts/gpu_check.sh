#!/usr/bin/env bash
# The check of a GPU machine, in one go: every chapter in the gpu profile (nbmake), each
# chapter's headline numbers, the benchmarks' GPU lines, all written to
# benchmarks/results/<device>-<date>.json (see scripts/gpu_check.py).
#
#   bash scripts/gpu_check.sh              # on a GPU machine (target: at most 10 minutes on one H100)
#   bash scripts/gpu_check.sh --dry-run    # the same steps on the CPU, on stand-ins, at toy size
#   bash scripts/gpu_check.sh --paper-lm   # also the paper profile's language-model run (hours)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh
exec python scripts/gpu_check.py "$@"

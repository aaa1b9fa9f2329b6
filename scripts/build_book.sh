#!/usr/bin/env bash
# Build the executed book: every chapter runs, strictly (a warning or a failing cell
# fails the build). Arguments go to jupyter-book.
#
#   bash scripts/build_book.sh                          # profile: COLLAPSE_PROFILE, else
#                                                       # gpu with CUDA, quick without
#   COLLAPSE_PROFILE=cpu bash scripts/build_book.sh     # what the website runs
#   COLLAPSE_PROFILE=quick bash scripts/build_book.sh   # minutes on two cores
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
source scripts/setup.sh

echo "build_book.sh: COLLAPSE_PROFILE=${COLLAPSE_PROFILE:-(unset: gpu when CUDA is available, else quick)}"
# Figures are captured by the notebook's inline backend; a non-interactive backend
# forced from the environment would leave the pages without them.
unset MPLBACKEND

# --all re-reads every page, so every chapter executes again with the current library.
jupyter-book build . --all -W -n --keep-going "$@"

echo "build_book.sh: the book is at $(pwd)/_build/html/index.html"

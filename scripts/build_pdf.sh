#!/usr/bin/env bash
# The PDF of the whole book, _build/book.pdf: every page of the executed site printed by
# headless Chromium, mathematics rendered, after a contents page (scripts/book_pdf.py).
# It prints the site in _build/html, and builds it first when there is none (the profile
# is COLLAPSE_PROFILE's, as for scripts/build_book.sh).
#
#   bash scripts/build_pdf.sh                      # _build/html -> _build/book.pdf
#   bash scripts/build_pdf.sh --out FILE.pdf       # arguments go to scripts/book_pdf.py
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ ! -f _build/html/index.html ]; then
    bash scripts/build_book.sh
fi
source scripts/setup.sh
python scripts/book_pdf.py "$@"

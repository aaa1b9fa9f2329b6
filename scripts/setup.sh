#!/usr/bin/env bash
# Create or update the project's virtual environment at .venv and activate it.
#
#   bash scripts/setup.sh        # install (only when something changed)
#   source scripts/setup.sh      # the same, then use the activated .venv
#
# Installs requirements.txt and the course library (pip install -e .). It reinstalls
# only when requirements.txt, pyproject.toml or the Python version changed (a stamp
# file in .venv holds their hash). It registers nothing outside the repository: no
# global kernels, no user-site packages. PYTHON picks the interpreter (default python3).

_setup_main() {
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local venv="$root/.venv"
    local python="${PYTHON:-python3}"
    local stamp="$venv/.installed-hash"

    if [ ! -x "$venv/bin/python" ]; then
        echo "setup: creating $venv with $("$python" --version 2>&1)"
        "$python" -c 'import sys; sys.exit(sys.version_info < (3, 10))' || {
            echo "setup: Python 3.10 or newer is needed (PYTHON=$python)" >&2
            return 1
        }
        "$python" -m venv "$venv" || return 1
    fi

    local want
    want="$(cat "$root/requirements.txt" "$root/pyproject.toml" \
            <("$venv/bin/python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
    if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
        echo "setup: installing requirements.txt and the course library into .venv"
        rm -f "$stamp"
        PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q --upgrade pip || return 1
        PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q -r "$root/requirements.txt" || return 1
        PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q -e "$root" || return 1
        echo "$want" > "$stamp"
    else
        echo "setup: .venv is up to date"
    fi

    export VIRTUAL_ENV="$venv"
    case ":$PATH:" in
        *":$venv/bin:"*) ;;
        *) export PATH="$venv/bin:$PATH" ;;
    esac
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    set -euo pipefail
    _setup_main
else
    _setup_main || return $?
fi

#!/usr/bin/env bash
# Create or update the project's virtual environment at .venv and activate it.
#
#   bash scripts/setup.sh               # install (only when something changed)
#   source scripts/setup.sh             # the same, then use the activated .venv
#   LOCK=latest bash scripts/setup.sh   # the canary: newest releases, in .venv-latest
#
# Installs the exact versions of requirements-lock.txt (pip checks every file against the
# lock's hashes), then the course library (pip install -e .). It reinstalls only when
# requirements-lock.txt, pyproject.toml or the Python version changed (a stamp file in .venv
# holds their hash). The lock pins the versions that the tests' fixed-seed numbers and the
# website's numbers belong to (the numbers are those of Python 3.11 on Linux x86-64); on
# other Pythons it installs the versions resolved for them, which it also lists.
#
# LOCK=latest makes a separate environment, .venv-latest, with the newest releases that
# requirements.txt allows (upgraded at every call), to find out early what the next
# releases change; scripts/test.sh then reports the moves of the version-bound numbers
# instead of failing on them (tests/conftest.py, marker `pinned`).
#
# It registers nothing outside the repository: no global kernels, no user-site packages.
# PYTHON picks the interpreter (default python3).
#
# The browser test of the built site (tests/test_site_browser.py) needs Debian's
# chromium and a local copy of MathJax 3 (the pages load it from a CDN, which the test
# does not reach). When /usr/bin/chromium is missing and this runs as root with apt-get,
# it installs chromium and chromium-driver; MathJax 3 and axe-core (the accessibility
# rules the test checks) come from the npm registry into .venv/mathjax and .venv/axe.
# Without them it says so, and that one test is skipped (it fails under CI).

# _npm_copy DIR PACKAGE FILE: install PACKAGE from the npm registry into DIR unless DIR/FILE exists.
_npm_copy() {
    local dir="$1" package="$2" file="$3"
    [ -f "$dir/$file" ] && return 0
    if command -v npm >/dev/null 2>&1; then
        echo "setup: installing $package from the npm registry into $dir"
        mkdir -p "$dir"
        npm install --prefix "$dir" --no-audit --no-fund --no-save --silent "$package" >/dev/null 2>&1 \
            || echo "setup: npm could not install $package; the browser test of the site will not run" >&2
    else
        echo "setup: npm is missing, so $package for the browser test of the site is not installed" >&2
    fi
}

_setup_browser() {
    local venv="$1"
    local as_root=0
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then as_root=1; fi
    local apt_updated=0
    _apt_install() {
        if [ "$apt_updated" = 0 ]; then
            DEBIAN_FRONTEND=noninteractive apt-get update -qq >/dev/null && apt_updated=1 || return 1
        fi
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
    }

    if [ ! -x /usr/bin/chromium ]; then
        if [ "$as_root" = 1 ]; then
            echo "setup: installing Debian's chromium and chromium-driver (browser test of the site)"
            _apt_install chromium chromium-driver \
                || echo "setup: apt-get could not install chromium; the browser test of the site will not run" >&2
        else
            echo "setup: /usr/bin/chromium is missing and installing it needs root and apt-get;" \
                 "the browser test of the site will be skipped (install Debian's chromium to run it)" >&2
        fi
    fi

    if ! command -v npm >/dev/null 2>&1 && [ "$as_root" = 1 ] \
            && { [ ! -f "$venv/mathjax/node_modules/mathjax/es5/tex-mml-chtml.js" ] \
                 || [ ! -f "$venv/axe/node_modules/axe-core/axe.min.js" ]; }; then
        echo "setup: installing Debian's npm (to fetch MathJax 3 and axe-core for the browser test)"
        _apt_install npm || true
    fi
    # MathJax 3, which the pages load from a CDN the test does not reach
    _npm_copy "$venv/mathjax" "mathjax@3" "node_modules/mathjax/es5/tex-mml-chtml.js"
    # axe-core, the accessibility rules the browser test checks every page against
    _npm_copy "$venv/axe" "axe-core@4" "node_modules/axe-core/axe.min.js"
    return 0
}

_setup_main() {
    local root
    root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
    local mode="${LOCK:-lock}"
    case "$mode" in
        lock | latest) ;;
        *) echo "setup: LOCK=$mode is not known; use LOCK=lock (the default: requirements-lock.txt)" \
                "or LOCK=latest (the newest releases that requirements.txt allows)" >&2
           return 1 ;;
    esac
    local venv="$root/.venv"
    [ "$mode" = latest ] && venv="$root/.venv-latest"
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

    local pip=(env PIP_DISABLE_PIP_VERSION_CHECK=1 "$venv/bin/python" -m pip install -q)
    if [ "$mode" = latest ]; then
        echo "setup: installing the newest releases that requirements.txt allows into $venv (the canary)"
        "${pip[@]}" --upgrade pip || return 1
        "${pip[@]}" --upgrade --upgrade-strategy eager -r "$root/requirements.txt" || return 1
        "${pip[@]}" --no-deps -e "$root" || return 1
    else
        local want
        want="$(cat "$root/requirements-lock.txt" "$root/pyproject.toml" \
                <("$venv/bin/python" -c 'import sys; print(sys.version)') | sha256sum | cut -d' ' -f1)"
        if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
            echo "setup: installing requirements-lock.txt and the course library into .venv"
            rm -f "$stamp"
            "${pip[@]}" --upgrade pip || return 1
            # --no-deps: everything is in the lock; a package that is not fails the hash check.
            "${pip[@]}" --require-hashes --no-deps -r "$root/requirements-lock.txt" || return 1
            "${pip[@]}" --no-deps -e "$root" || return 1
            "$venv/bin/python" -m pip check >/dev/null || { "$venv/bin/python" -m pip check >&2; return 1; }
            echo "$want" > "$stamp"
        else
            echo "setup: .venv is up to date"
        fi
    fi
    _setup_browser "$venv"

    export VIRTUAL_ENV="$venv"
    export COLLAPSE_LOCK="$mode"
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

#!/usr/bin/env bash
# Install everything esl-router needs, on a fresh Debian 12 machine with Python 3.11 and a Rust
# toolchain. Idempotent and quick when nothing changed:
#   - apt packages (redis-server, sip-tester) only when missing, `apt-get update` only then;
#   - the virtualenv .venv only when absent;
#   - Python dependencies only when pyproject.toml changed;
#   - the Rust extension router._core (release build) only when the core's sources changed.
# Stamps live in .venv/, so deleting .venv resets everything.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VENV="$ROOT/.venv"
APT_PACKAGES=(redis-server sip-tester)

log() { printf '[setup] %s\n' "$*" >&2; }

# --- system packages -------------------------------------------------------------------------
# Debian's python3 needs python3-venv for `python -m venv` (ensurepip); the Rust linker needs cc.
PYTHON="${PYTHON:-}"
if [[ -z "$PYTHON" ]]; then
    for candidate in python3.11 python3; do
        if command -v "$candidate" >/dev/null 2>&1; then PYTHON="$candidate"; break; fi
    done
fi
[[ -n "$PYTHON" ]] || { log "no python3 found: install Python 3.11 (apt-get install python3)"; exit 1; }
"$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' \
    || { log "$PYTHON is older than 3.11: set PYTHON=/path/to/python3.11"; exit 1; }

missing=()
for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
done
if [[ ! -d "$VENV" ]] && ! "$PYTHON" -c 'import ensurepip' >/dev/null 2>&1; then
    missing+=(python3-venv)
fi
command -v cc >/dev/null 2>&1 || missing+=(gcc)
if ((${#missing[@]})); then
    SUDO=()
    [[ "$(id -u)" -eq 0 ]] || SUDO=(sudo)
    log "installing apt packages: ${missing[*]}"
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq
    "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${missing[@]}" >/dev/null
fi
# rustup installs into ~/.cargo/bin, which a non-login shell may not have on PATH.
if ! command -v cargo >/dev/null 2>&1 && [[ -x "$HOME/.cargo/bin/cargo" ]]; then
    export PATH="$HOME/.cargo/bin:$PATH"
fi
command -v cargo >/dev/null 2>&1 || {
    log "cargo not found: install the Rust toolchain (https://rustup.rs) and put ~/.cargo/bin on PATH"
    exit 1
}

# --- virtualenv and Python dependencies ------------------------------------------------------
if [[ ! -x "$VENV/bin/python" ]]; then
    log "creating $VENV with $PYTHON"
    "$PYTHON" -m venv "$VENV"
fi
PY="$VENV/bin/python"

stamp_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

deps_stamp="$(stamp_of pyproject.toml)"
if [[ "$(cat "$VENV/.deps-stamp" 2>/dev/null)" != "$deps_stamp" ]]; then
    log "installing Python dependencies (maturin and the [test] extra of pyproject.toml)"
    # The project's own dependencies and its [test] extra, read from pyproject.toml, so that they
    # install even while the Rust core does not build; the package itself is installed below.
    mapfile -t reqs < <("$PY" - <<'EOF'
import tomllib
project = tomllib.load(open("pyproject.toml", "rb"))["project"]
for req in project.get("dependencies", []) + project.get("optional-dependencies", {}).get("test", []):
    print(req)
EOF
)
    "$PY" -m pip install -q --disable-pip-version-check 'maturin>=1.5,<2' "${reqs[@]}"
    echo "$deps_stamp" >"$VENV/.deps-stamp"
    rm -f "$VENV/.core-stamp"   # metadata may have changed: reinstall the package too
fi

# --- the Rust extension router._core ----------------------------------------------------------
# Rebuilt when any input of the build changed, or when the built module is missing.
mapfile -t core_inputs < <(
    { ls Cargo.toml Cargo.lock pyproject.toml 2>/dev/null; find core_rs -type f -not -path '*/target/*'; } | sort
)
core_stamp="$( { printf '%s\n' "${core_inputs[@]}"; stamp_of "${core_inputs[@]}"; } | sha256sum | cut -d' ' -f1)"
if [[ "$(cat "$VENV/.core-stamp" 2>/dev/null)" != "$core_stamp" ]] \
    || ! compgen -G 'router/_core*.so' >/dev/null; then
    log "building the Rust core (maturin develop --release) and installing esl-router editable"
    # `maturin develop` in the venv builds router/_core*.so in place (mixed Rust/Python layout)
    # and installs the package editable with its `esl-router` console script.
    rm -f "$VENV/.core-stamp"
    (
        # shellcheck disable=SC1091
        source "$VENV/bin/activate"
        maturin develop --release --quiet
    )
    echo "$core_stamp" >"$VENV/.core-stamp"
fi

log "ready: $("$PY" -c 'import router._core as c; print("router._core", c.__version__)')"

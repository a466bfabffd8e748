#!/usr/bin/env bash
# The whole test suite, exactly what CI runs (.ci/run): install what is missing (scripts/setup.sh),
# then the Rust tests and lints, the Python lints and type checks, and pytest.
# Every step runs even when an earlier one fails; the exit code is non-zero if any failed.
# Extra arguments go to pytest, e.g. `scripts/run-tests.sh -k config`.
set -uo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT" || exit 1

scripts/setup.sh || { echo "[tests] set-up failed" >&2; exit 1; }

export PATH="$ROOT/.venv/bin:$PATH:$HOME/.cargo/bin"
export PYO3_PYTHON="$ROOT/.venv/bin/python"   # the interpreter pyo3 configures itself for

failed=()
step() {
    local name="$1"
    shift
    printf '\n==> %s\n' "$name"
    local start=$SECONDS
    if "$@"; then
        printf '==> %s: ok (%ss)\n' "$name" $((SECONDS - start))
    else
        printf '==> %s: FAILED (%ss)\n' "$name" $((SECONDS - start))
        failed+=("$name")
    fi
}

# The pure core builds and tests without Python; the bindings are behind the `python` feature.
step "cargo test" cargo test --workspace --quiet
step "cargo clippy" cargo clippy --workspace --all-targets --quiet -- -D warnings
step "cargo clippy (python)" \
    cargo clippy --workspace --all-targets --features core_rs/python --quiet -- -D warnings
step "ruff check" ruff check .
step "mypy" mypy
step "pytest" python -m pytest -q "$@"

echo
if ((${#failed[@]})); then
    echo "FAILED steps: ${failed[*]}"
    exit 1
fi
echo "all steps passed"

#!/usr/bin/env bash
# Install what is missing (scripts/setup.sh), then run the demo: `esl-router demo`.
# Arguments go to the demo, e.g. `scripts/run-demo.sh --calls 300 --seed 7`.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
"$ROOT/scripts/setup.sh"
exec "$ROOT/.venv/bin/esl-router" demo "$@"

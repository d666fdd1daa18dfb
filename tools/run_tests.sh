#!/usr/bin/env bash
# The README's test command: set up .venv, then run the whole test suite (pytest + emo_lobes doctests).
# Run: bash tools/run_tests.sh [pytest args]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
# Tiny test models run faster on one thread each than with threads competing for the 2 cores.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/python -m pytest -q "$@"

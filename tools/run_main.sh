#!/usr/bin/env bash
# The README's main command: set up .venv, write the synthetic corpora, run every recipe quickly, print the table.
# Run: bash tools/run_main.sh [--only MLEE ...]
set -euo pipefail
cd "$(dirname "$0")/.."
bash tools/setup_env.sh
# The quick configurations use tiny models, which run faster on one thread each than with threads competing.
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
exec .venv/bin/python tools/main_job.py "$@"

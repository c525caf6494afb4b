#!/usr/bin/env bash
# Set up everything and run the books demo: an instrumented Django server, real
# HTTP traffic, then `spanscope analyze` on the trace files.
# Options are passed to examples/run_demo.py (see `scripts/demo.sh --help`).
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv demo
exec .venv/bin/python examples/run_demo.py "$@"

#!/usr/bin/env bash
# Lint, format check, type check and tests. Extra arguments go to pytest,
# e.g. `scripts/test.sh -k books -x`. Every step runs even when an earlier one
# fails (so a CI log always shows the test summary); the exit code is non-zero
# if any step failed.
set -uo pipefail
cd "$(dirname "$0")/.."
source scripts/_venv.sh
ensure_venv dev || exit 1

failed=()
step() {
    local name=$1
    shift
    echo "==> $name: $*"
    if ! "$@"; then
        failed+=("$name")
    fi
}

step lint .venv/bin/ruff check .
step format .venv/bin/ruff format --check .
step types .venv/bin/mypy
step tests .venv/bin/pytest "$@"

if [ ${#failed[@]} -gt 0 ]; then
    echo "==> FAILED: ${failed[*]}"
    exit 1
fi
echo "==> all checks passed"

#!/usr/bin/env bash
# Quality gates (issue 13): lint (with a complexity limit, C901 in pyproject.toml), format,
# `mypy --strict` on the whole package, and the import floors (import-linter contracts in
# pyproject.toml). Runs every gate, prints what failed, exits 1 if any did.
# Usage: bash tools/lint.sh        (tests/test_quality_gates.py runs it in the suite)
set -uo pipefail
cd "$(dirname "$0")/.."

failed=()
gate() {
  local name=$1
  shift
  echo "== $name: $*"
  if ! "$@"; then
    failed+=("$name")
  fi
}

gate ruff-check python3 -m ruff check .
gate ruff-format python3 -m ruff format --check .
gate mypy python3 -m mypy --strict netsec_layers
gate import-floors lint-imports --no-cache

if [ ${#failed[@]} -gt 0 ]; then
  echo "lint: FAILED gates: ${failed[*]}" >&2
  exit 1
fi
echo "lint: all gates passed"

#!/usr/bin/env bash
# The full test suite: every crate's unit, integration and property tests (through cargo-nextest).
# Installs what it needs; safe to run again. Usage: tests/run.sh [extra nextest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# One target folder outside the clone, so a fresh checkout on a warm machine does not rebuild dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ecsub-target}"

for tool in cargo python3 bash dash base64; do
  command -v "$tool" >/dev/null || { echo "tests/run.sh: '$tool' is needed and not installed" >&2; exit 1; }
done
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "tests/run.sh: installing cargo-nextest (once)" >&2
  cargo install cargo-nextest --locked
fi

cargo nextest run --workspace --no-fail-fast "$@"

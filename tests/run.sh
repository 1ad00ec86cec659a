#!/usr/bin/env bash
# The full test suite: lints of the stack (cfn-lint on template.yaml and the ASL, and least privilege in every
# policy the template makes), the emulated cloud's own tests (its IAM evaluation and the refusals it must give),
# then every crate's unit, property, integration and end-to-end tests through cargo-nextest. The end-to-end tests
# run on the emulated cloud (tests/emulator), which needs the pinned Python venv, the workspace's binaries, and
# root (its instances and containers are mount namespaces); the venv and the binaries are made here.
# Safe to run again. Usage: tests/run.sh [extra nextest args]
set -euo pipefail
cd "$(dirname "$0")/.."

# One target folder outside the clone, so a fresh checkout on a warm machine does not rebuild dependencies.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/ecsub-target}"

for tool in cargo python3 bash dash base64 sha256sum unshare; do
  command -v "$tool" >/dev/null || { echo "tests/run.sh: '$tool' is needed and not installed" >&2; exit 1; }
done
if ! cargo nextest --version >/dev/null 2>&1; then
  echo "tests/run.sh: installing cargo-nextest (once)" >&2
  cargo install cargo-nextest --locked
fi

if [ "$(id -u)" != 0 ]; then
  echo "tests/run.sh: the emulated cloud runs instances and containers in mount namespaces: run as root" >&2
  exit 1
fi
# The job report's HTML page is opened in a real headless browser (tests/e2e/attempts.rs).
if ! command -v chromium >/dev/null; then
  command -v apt-get >/dev/null || { echo "tests/run.sh: chromium is needed (Debian: apt-get install chromium)" >&2; exit 1; }
  echo "tests/run.sh: installing chromium (once), for the report's page" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null \
    || { apt-get update >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends chromium >/dev/null; } \
    || { echo "tests/run.sh: apt-get install chromium failed" >&2; exit 1; }
fi

tests/emulator/tools/setup.sh
echo "== lint: template.yaml and infra/statemachine/*.asl.json (cfn-lint, least privilege)" >&2
.venv/bin/python -m tests.emulator.tools.lint
echo "== the emulated cloud's own tests (tests/emulator/tests)" >&2
if ! out="$(.venv/bin/python -m unittest discover -s tests/emulator/tests -t . 2>&1)"; then
  printf '%s\n' "$out" >&2
  exit 1
fi
printf '%s\n' "$out" | tail -n 3 >&2
echo "== build: the handlers and the CLI (the end-to-end tests run the binaries)" >&2
cargo build --workspace --bins
echo "== tests" >&2
cargo nextest run --workspace --no-fail-fast "$@"
